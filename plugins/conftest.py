"""The template is not installed in the development environment: the core's
``tests/test_plugin_template.py`` builds it, installs it into a fresh virtual
environment and runs its tests there."""

collect_ignore = ["template"]
