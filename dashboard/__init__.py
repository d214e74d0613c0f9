"""The Streamlit dashboard: one module per page under ``pages/``, shared loaders, filters and charts.
Pages render; statistics come from the packages (readmodels.status, drift, costs, alerts)."""
