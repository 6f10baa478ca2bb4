"""Test stand-in for OpenTelemetry (see ../README.md): not the real package."""
