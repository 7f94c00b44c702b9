"""Where crises come from and whose they are: brands, members and roles, integration keys, tenant scoping."""
