"""Gateway: identity, RBAC and tenancy, the HTTP API and the web app."""
