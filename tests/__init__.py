"""Tests of the SmartLoad integration."""
