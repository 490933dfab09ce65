"""Shared fixtures come from ``pichr_appliance.testing`` (registered as a pytest plugin)."""
