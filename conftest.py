pytest_plugins = ["hospeda.devstack.testing"]
