/*
 * One IndexedDB object store, opened once: what the queue (queue.js) and the kept lists
 * (lists.js) each keep in a database of their own. `objectStore(db, store, keyPath)` gives
 * `run(mode, work)`: `work(store)` makes a request inside a transaction, and the promise
 * resolves with that request's result once the transaction has completed.
 */

export function objectStore(dbName, storeName, keyPath) {
  let opened = null;

  function open() {
    if (!opened) {
      opened = new Promise((resolve, reject) => {
        if (!self.indexedDB) throw new Error('no IndexedDB');
        const request = indexedDB.open(dbName, 1);
        request.onupgradeneeded = () => {
          request.result.createObjectStore(storeName, { keyPath });
        };
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
        request.onblocked = () => reject(new Error('IndexedDB blocked'));
      });
    }
    return opened;
  }

  return function run(mode, work) {
    return open().then((db) => new Promise((resolve, reject) => {
      const tx = db.transaction(storeName, mode);
      const request = work(tx.objectStore(storeName));
      tx.oncomplete = () => resolve(request ? request.result : undefined);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error('aborted'));
    }));
  };
}
