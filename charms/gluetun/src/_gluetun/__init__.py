"""Helpers of the gluetun-k8s charm: options, workload files and layers, control server."""
