"""SmartLoad's brand icon, served by Home Assistant's own brands view from the integration."""

from __future__ import annotations

from pathlib import Path

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from PIL import Image
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

BRAND = Path(__file__).parent.parent / "custom_components" / "smartload" / "brand"


@pytest.mark.parametrize(("image", "size"), [("icon.png", 256), ("icon@2x.png", 512)])
def test_brand_images_are_square_pngs(image: str, size: int) -> None:
    """The sizes the brands repository asks for: 256 px, and 512 px for @2x."""
    with Image.open(BRAND / image) as img:
        assert img.format == "PNG"
        assert img.size == (size, size)
        assert img.mode == "RGBA"  # transparent corners


async def test_home_assistant_serves_the_icon(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    """The frontend's icon request is answered from the integration, not the CDN."""
    assert await async_setup_component(hass, "brands", {})
    client = await hass_client()
    for image, fallback in (("icon.png", "icon.png"), ("dark_icon.png", "icon.png")):
        response = await client.get(f"/api/brands/integration/smartload/{image}")
        assert response.status == 200
        assert await response.read() == (BRAND / fallback).read_bytes()
