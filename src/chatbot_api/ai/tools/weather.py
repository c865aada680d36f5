"""`getWeather`: current weather from Open-Meteo (geocoding + forecast), human-approved."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field

from chatbot_api.ai.tools.base import Tool, ToolContext
from chatbot_api.core.config import Settings

COORDINATES_REQUIRED = (
    "Please provide either a city name or both latitude and longitude coordinates."
)
UNREACHABLE = "The weather service could not be reached. Please try again later."


def city_not_found(city: str) -> str:
    return f'Could not find coordinates for "{city}". Please check the city name.'


class WeatherInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    city: str | None = Field(
        default=None,
        max_length=200,
        description="City name (e.g., 'San Francisco', 'New York', 'London')",
    )


class GetWeather(Tool):
    name = "getWeather"
    description = (
        "Get the current weather at a location. You can provide either coordinates or a city name."
    )
    input_model: ClassVar[type[BaseModel]] = WeatherInput

    def needs_approval(self, settings: Settings) -> bool:
        return settings.weather_approval_required

    async def run(self, args: Any, ctx: ToolContext) -> Any:
        assert isinstance(args, WeatherInput)
        settings = ctx.settings
        timeout = httpx.Timeout(settings.weather_timeout_seconds)
        latitude, longitude = args.latitude, args.longitude
        if args.city:
            try:
                found = await _geocode(
                    ctx.http, settings.open_meteo_geocoding_url, args.city, timeout
                )
            except _Unreachable:
                return {"error": UNREACHABLE}
            if found is None:
                return {"error": city_not_found(args.city)}
            latitude, longitude = found
        elif latitude is None or longitude is None:
            return {"error": COORDINATES_REQUIRED}
        params: dict[str, str | float] = {
            "latitude": latitude,
            "longitude": longitude,
            "current": "temperature_2m",
            "hourly": "temperature_2m",
            "daily": "sunrise,sunset",
            "timezone": "auto",
        }
        try:
            response = await ctx.http.get(
                settings.open_meteo_forecast_url, params=params, timeout=timeout
            )
            response.raise_for_status()
            weather = response.json()
        except (httpx.HTTPError, ValueError):
            return {"error": UNREACHABLE}
        if not isinstance(weather, dict):
            return {"error": UNREACHABLE}
        if args.city:
            weather["cityName"] = args.city
        return weather


class _Unreachable(Exception):
    pass


async def _geocode(
    http: httpx.AsyncClient, url: str, city: str, limits: httpx.Timeout
) -> tuple[float, float] | None:
    """The city's coordinates; None when it is unknown; `_Unreachable` when the service is."""
    params = {"name": city, "count": "1", "language": "en", "format": "json"}
    try:
        response = await http.get(url, params=params, timeout=limits)
    except httpx.HTTPError:
        raise _Unreachable from None
    if response.status_code >= 500 or response.status_code == 429:
        raise _Unreachable
    try:
        response.raise_for_status()
        first = (response.json().get("results") or [])[0]
        return float(first["latitude"]), float(first["longitude"])
    except (httpx.HTTPError, ValueError, LookupError, TypeError, AttributeError):
        return None
