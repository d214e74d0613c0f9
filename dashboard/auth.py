"""Login gate: when .streamlit/secrets.toml has an [auth] table, every page needs an OIDC login
(st.login); an optional allow-list ([inferwatch] allowed_emails / allowed_domains) narrows who."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st


def _secrets() -> Mapping[str, Any]:
    try:
        return dict(st.secrets)
    except FileNotFoundError:  # no secrets.toml at all
        return {}
    except Exception:  # noqa: BLE001  an unreadable secrets file must not open the dashboard to everyone
        return {"auth": {}}


def auth_required() -> bool:
    return "auth" in _secrets()


def allowed(email: str | None, policy: Mapping[str, Any]) -> bool:
    emails = {e.lower() for e in policy.get("allowed_emails", [])}
    domains = {d.lower().lstrip("@") for d in policy.get("allowed_domains", [])}
    if not emails and not domains:
        return True
    if not email:
        return False
    email = email.lower()
    return email in emails or email.rsplit("@", 1)[-1] in domains


def require_login() -> bool:
    """True when the visitor may see the dashboard; otherwise renders the login screen."""
    if not auth_required():
        return True
    if not st.user.get("is_logged_in", False):
        st.title("Inferwatch")
        st.info("Sign in to see the dashboard.")
        if st.button("Sign in", type="primary"):
            st.login()
        return False
    email = st.user.get("email")
    if not allowed(email if isinstance(email, str) else None, _secrets().get("inferwatch", {})):
        st.error("Your account is not on this dashboard's allow-list.")
        if st.button("Sign out"):
            st.logout()
        return False
    with st.sidebar:
        st.caption(f"signed in as {st.user.get('email', 'unknown')}")
        if st.button("Sign out", key="logout"):
            st.logout()
    return True
