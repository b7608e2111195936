"""The Fintech ML Workbench desktop application: a thin Tk view over the `training` engine."""
