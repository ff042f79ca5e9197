"""Closed-loop replay simulator: strategies on a real year of prices, PV, load and car trips."""
