"""SmartLoad's planning core: plain Python + numpy/scipy, no Home Assistant import."""
