"""The Streamlit dashboard: one module per page under ``pages/``, shared loaders, filters and charts.
Pages render; statistics come from the packages (inferwatch.status, drift, costs, alerts)."""
