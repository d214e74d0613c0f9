"""Inferwatch dashboard: `streamlit run app.py` (or `inferwatch dashboard`)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import data
from dashboard.auth import require_login
from dashboard.banner import render_source_banner
from dashboard.filters import render_filters

PAGES_DIR = Path(__file__).parent / "dashboard" / "pages"
SECTIONS: dict[str, list[tuple[str, str, str]]] = {
    "Monitor": [("overview.py", "Overview", ":material/monitor_heart:"),
                ("deployment.py", "Deployment", ":material/dns:"),
                ("versions.py", "Versions", ":material/compare_arrows:"),
                ("drift.py", "Drift", ":material/ssid_chart:"),
                ("health.py", "Model health", ":material/health_and_safety:")],
    "Money": [("costs.py", "Costs and advice", ":material/payments:")],
    "Operate": [("alerts.py", "Alerts", ":material/notifications:"),
                ("sources.py", "Sources", ":material/cloud_sync:")],
}


def main() -> None:
    st.set_page_config(page_title="Inferwatch", page_icon=":material/monitoring:", layout="wide")
    if not require_login():
        return
    pages = {
        section: [st.Page(str(PAGES_DIR / f), title=title, icon=icon, default=(f == "overview.py"))
                  for f, title, icon in items if (PAGES_DIR / f).exists()]
        for section, items in SECTIONS.items()
    }
    navigation = st.navigation({k: v for k, v in pages.items() if v})
    st.sidebar.markdown("## inferwatch")
    deployments = data.load_deployment_frame(data.store_url(), data.now_bucket(60))
    st.session_state["_inferwatch_filters"] = render_filters(sorted(deployments["id"]))
    render_source_banner()
    navigation.run()


main()
