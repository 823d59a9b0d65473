"""Prowlarr-only logic: which applications to register, and the VPN proxy."""
