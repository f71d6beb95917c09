"""Login, logout, roles and scopes: who may see and change what."""

from __future__ import annotations

import pytest

from qrservice.demo import ORGANISER, SECRETARY_PASSWORD
from tests.conftest import make_app

OFFICER_PAGES = ["/units", "/members/", "/members/1"]
ORGANISER_PAGES = ["/members/new", "/members/1/edit", "/users/", "/users/new"]


@pytest.mark.parametrize("path", OFFICER_PAGES + ORGANISER_PAGES)
def test_pages_need_a_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_organiser_logs_in_and_sees_the_whole_tree(client, auth):
    response = auth.login()
    assert response.status_code == 302
    page = client.get("/units").get_data(as_text=True)
    for branch in ("机关第一党支部", "机关第二党支部", "生产一线党支部", "离退休党支部"):
        assert branch in page
    assert "120" in page  # the committee's subtree total


@pytest.mark.parametrize(
    ("username", "password"),
    [("organiser", "wrong-password"), ("nobody", ORGANISER[1]), ("", "")],
)
def test_wrong_login_says_so_without_hinting_which_part(client, username, password):
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert "用户名或密码错误" in page or "Wrong username or password" in page
    assert client.get("/units").status_code == 302


def test_secretary_sees_only_their_branch(client, auth):
    auth.as_secretary(2)
    tree = client.get("/units").get_data(as_text=True)
    assert "机关第二党支部" in tree
    assert "机关第一党支部" not in tree
    listing = client.get("/members/?active=any").get_data(as_text=True)
    assert "30 " in listing or "30个" in listing or ">30<" in listing or "30 members" in listing
    # member 1 belongs to branch 1: hidden, not forbidden, so its existence is not revealed
    assert client.get("/members/1").status_code == 404


@pytest.mark.parametrize("path", ORGANISER_PAGES)
def test_secretary_cannot_reach_organiser_pages(client, auth, path):
    auth.as_secretary(1)
    assert client.get(path).status_code == 403


def test_secretary_cannot_post_member_changes(client, auth):
    auth.as_secretary(1)
    response = client.post("/members/1/active", data={"active": "no"})
    assert response.status_code == 403


def test_logout_ends_the_session(client, auth):
    auth.login()
    auth.logout()
    assert client.get("/units").status_code == 302


def test_login_redirect_stays_on_this_site(client):
    response = client.post(
        "/login?next=https://evil.example/",
        data={"username": ORGANISER[0], "password": ORGANISER[1]},
    )
    assert response.headers["Location"] == "/meetings/"


def test_forms_refuse_a_post_without_csrf_token(data_dir):
    app = make_app(data_dir, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    response = client.post("/login", data={"username": "organiser", "password": ORGANISER[1]})
    assert response.status_code == 400
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(
        "/login", data={"username": "organiser", "password": ORGANISER[1], "csrf_token": token}
    )
    assert response.status_code == 302


def test_repeated_wrong_logins_are_rate_limited(data_dir):
    app = make_app(data_dir, RATELIMIT_ENABLED=True)
    client = app.test_client()
    codes = [
        client.post("/login", data={"username": "secretary1", "password": "x"}).status_code
        for _ in range(11)
    ]
    assert codes[:10] == [401] * 10
    assert codes[10] == 429
    # the right password is refused too while the limit holds
    response = client.post(
        "/login", data={"username": "secretary1", "password": SECRETARY_PASSWORD}
    )
    assert response.status_code == 429
