"""The sidebar panel "SmartLoad": the plan's timeline drawn with plotly.js, offline.

Registered once in ``async_setup``: the panel's JS module and plotly.js (the copy bundled in the
``plotly`` Python package, so no CDN) are served as static paths; the panel reads the plan from
the authenticated ``/api/smartload/plan`` (``api.py``) with the logged-in user's token.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
from pathlib import Path

from homeassistant.components import frontend, panel_custom
from homeassistant.components.http import StaticPathConfig
from homeassistant.core import HomeAssistant

from .api import SmartLoadPlanView

_LOGGER = logging.getLogger(__name__)

PANEL_URL_PATH = "smartload"
PANEL_TITLE = "SmartLoad"
PANEL_ICON = "mdi:chart-timeline-variant"
PANEL_ELEMENT = "smartload-panel"
STATIC_URL = "/smartload_static"
PANEL_JS_URL = f"{STATIC_URL}/smartload-panel.js"
PLOTLY_JS_URL = f"{STATIC_URL}/plotly.min.js"
PANEL_JS = Path(__file__).parent / "frontend" / "smartload-panel.js"


def plotly_js_path() -> Path | None:
    """plotly.min.js inside the installed ``plotly`` package (not imported: only located)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "package_data" / "plotly.min.js"
        if path.is_file():
            return path
    return None


def _file_version(*paths: Path | None) -> str:
    """A short hash of the files' sizes and times: the module URL changes when they do."""
    digest = hashlib.sha256()
    for path in paths:
        if path is not None:
            stat = path.stat()
            digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:12]


async def async_setup_panel(hass: HomeAssistant) -> None:
    """Serve the panel's files, register the plan view and the sidebar panel (once)."""
    if PANEL_URL_PATH in hass.data.get(frontend.DATA_PANELS, {}):
        return
    try:
        plotly, version = await hass.async_add_executor_job(_locate)
    except OSError as err:  # a broken install: SmartLoad still plans, only the panel is missing
        _LOGGER.error("The SmartLoad panel's files cannot be read, no panel: %s", err)
        return
    if plotly is None:
        _LOGGER.warning(
            "The plotly package is not installed: the SmartLoad panel cannot draw its charts"
        )
    paths = [StaticPathConfig(PANEL_JS_URL, str(PANEL_JS), cache_headers=False)]
    if plotly is not None:
        paths.append(StaticPathConfig(PLOTLY_JS_URL, str(plotly), cache_headers=True))
    await hass.http.async_register_static_paths(paths)
    hass.http.register_view(SmartLoadPlanView())
    await panel_custom.async_register_panel(
        hass,
        frontend_url_path=PANEL_URL_PATH,
        webcomponent_name=PANEL_ELEMENT,
        sidebar_title=PANEL_TITLE,
        sidebar_icon=PANEL_ICON,
        module_url=f"{PANEL_JS_URL}?v={version}",
        config={"plotly_url": f"{PLOTLY_JS_URL}?v={version}", "api": "smartload/plan"},
        require_admin=False,
    )


def _locate() -> tuple[Path | None, str]:
    plotly = plotly_js_path()
    return plotly, _file_version(PANEL_JS, plotly)
