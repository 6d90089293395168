"""The REST API: thin DRF views over the hub's services and selectors."""
