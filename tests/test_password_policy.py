"""The password policy (OWASP ASVS 2.1) for new passwords, over every adapter that sets one."""

from __future__ import annotations

import pytest

from atexpert.domain.errors import InvalidInput
from atexpert.domain.passwords import (
    MIN_LENGTH,
    check_new_password,
    common_passwords,
    password_problem,
)
from tests.support.api_world import PASSWORD, Api, bearer

pytest_plugins = ("tests.support.api_world",)

PASSPHRASE = "correct horse battery staple, but longer and mine " * 4


@pytest.mark.parametrize(
    ("password", "username", "problem"),
    [
        ("x" * (MIN_LENGTH - 1), "mia", "at least 12 characters"),
        (" " * 8, "mia", "at least 12 characters"),
        ("qwerty123456", "mia", "common passwords"),
        ("QwErTy123456", "mia", "common passwords"),  # case-insensitive
        ("1q2w3e4r5t6y", "mia", "common passwords"),
        ("my-name-is-MIA!", "mia", "must not contain the username"),
        (" " * 12, "mia", "5 different characters"),
        ("AbAbAbAbAbAb", "mia", "5 different characters"),
        ("x" * 257, "mia", "at most 256"),
    ],
)
def test_refused_passwords_say_why(password: str, username: str, problem: str) -> None:
    found = password_problem(password, username)
    assert found is not None and problem in found
    with pytest.raises(InvalidInput) as raised:
        check_new_password(password, username, field="new_password")
    assert raised.value.errors[0].loc == ("new_password",)


@pytest.mark.parametrize(
    "password",
    ["abcde" * 3, "a-quiet-lake", PASSPHRASE[:256], "jolly jumper 7"],
)
def test_accepted_passwords(password: str) -> None:
    # 12 characters are enough; a 2-letter username ("jo") is not looked for.
    assert password_problem(password, "jo") is None
    assert password_problem(password, "mia") is None


def test_the_shipped_list_is_loaded() -> None:
    common = common_passwords()
    assert len(common) > 19_000 and "password" in common and "iloveyou" in common


async def test_user_creation_applies_the_policy(api: Api) -> None:
    _, admin = await api.user("root", admin=True)
    for password, ok in (
        ("a-quiet-pon", False),
        ("a-quiet-pond", True),
        ("Qwerty123456", False),
        ("bob-is-my-name", False),
        (PASSPHRASE[:256], True),
    ):
        name = f"bob{len(password)}" if "bob" not in password else "bob"
        body = {"username": name, "password": password}
        r = await api.client.post("/api/users", json=body, headers=bearer(admin))
        assert (r.status_code == 201) is ok, (password, r.text)
        if not ok:
            assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "password"]


async def test_password_change_applies_the_policy(api: Api) -> None:
    _, token = await api.user("alice")
    for new, status in (
        ("alice-password-2", 422),
        ("password1234", 422),
        ("short-pw", 422),
        ("a long passphrase that is easy to remember", 204),
    ):
        body = {"current_password": PASSWORD, "new_password": new}
        r = await api.client.post("/api/me/password", json=body, headers=bearer(token))
        assert r.status_code == status, (new, r.text)
        if status == 422:
            assert r.json()["detail"][0]["loc"] == ["body", "new_password"]


async def test_an_existing_short_password_keeps_working_until_changed(api: Api) -> None:
    # Created before the policy (stores take any password: only adapters check new ones).
    await api.services.staff.create_user("old", "pw-123456")
    r = await api.client.post("/api/login", json={"username": "old", "password": "pw-123456"})
    assert r.status_code == 200
    csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
    body = {"current_password": "pw-123456", "new_password": "pw-1234567"}
    r = await api.client.post("/api/me/password", json=body, headers=csrf)
    assert r.status_code == 422
    body["new_password"] = "pw-1234567-and-more"
    assert (await api.client.post("/api/me/password", json=body, headers=csrf)).status_code == 204
