"""WGS84 geodesy: GeographicLib distances (through pyproj) and the gnomonic plane used to compare
shapes.

Two models of the Earth meet here, each used for what it does best:

* Distances and directions are WGS84 geodesics (``pyproj.Geod(ellps="WGS84")``, GeographicLib
  underneath).
* Shape *edges* are great-circle arcs on the sphere of geodetic coordinates: the unit sphere on
  which a point sits at its geodetic latitude and longitude. The gnomonic projection of that sphere
  maps every such arc to a straight segment, so planar geometry (shapely, segment tests) is exact
  for topology there, and nearly isometric near the projection's centre once scaled by the
  ellipsoid's radii of curvature at that centre.

A gnomonic plane is centred at a 3D unit vector rather than at a longitude, so nothing here unwraps
longitudes: shapes across ±180° and around the poles need no special case.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from pyproj import Geod

LonLat = tuple[float, float]
Vec3 = tuple[float, float, float]

WGS84 = Geod(ellps="WGS84")
_A_M = 6378137.0
_F = 1 / 298.257223563
_E2 = _F * (2 - _F)
MIN_RADIUS_M = _A_M * (1 - _E2)
"""Smallest radius of curvature of WGS84 (meridional, at the equator).

Metres along any path ≥ MIN_RADIUS_M × its arc on the sphere of geodetic coordinates.
"""


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Geodesic WGS84 distance in metres (GeographicLib)."""
    return float(WGS84.inv(lon1, lat1, lon2, lat2)[2])


def destination(lon: float, lat: float, azimuth_deg: float, distance_m: float) -> LonLat:
    """The point reached from (lon, lat) after distance_m along the geodesic at azimuth_deg."""
    lon2, lat2, _ = WGS84.fwd(lon, lat, azimuth_deg, distance_m)
    return float(lon2), float(lat2)


def advance(frm: LonLat, toward: LonLat, distance_m: float) -> LonLat:
    """Move from `frm` along the geodesic toward `toward` by distance_m, stopping at `toward`."""
    az, _, total = WGS84.inv(frm[0], frm[1], toward[0], toward[1])
    if distance_m <= 0 or total == 0:
        return frm
    if distance_m >= total:
        return toward
    return destination(frm[0], frm[1], float(az), distance_m)


def unit_vector(lon: float, lat: float) -> Vec3:
    """The point on the unit sphere of geodetic coordinates (x to lon 0, z to the north pole)."""
    lam, phi = math.radians(lon), math.radians(lat)
    c = math.cos(phi)
    return (c * math.cos(lam), c * math.sin(lam), math.sin(phi))


def to_lonlat(v: Vec3) -> LonLat:
    """Longitude and latitude in degrees of a (not necessarily unit) vector."""
    x, y, z = v
    return math.degrees(math.atan2(y, x)), math.degrees(math.atan2(z, math.hypot(x, y)))


def dot(u: Vec3, v: Vec3) -> float:
    return u[0] * v[0] + u[1] * v[1] + u[2] * v[2]


def normalized(v: Vec3) -> Vec3:
    """v scaled to unit length; ValueError for the zero vector (the mean of antipodes)."""
    n = math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
    if n < 1e-12:
        raise ValueError("zero vector has no direction")
    return (v[0] / n, v[1] / n, v[2] / n)


def angle_rad(u: Vec3, v: Vec3) -> float:
    """Arc between two unit vectors, accurate for small and large angles alike."""
    cx = u[1] * v[2] - u[2] * v[1]
    cy = u[2] * v[0] - u[0] * v[2]
    cz = u[0] * v[1] - u[1] * v[0]
    return math.atan2(math.sqrt(cx * cx + cy * cy + cz * cz), dot(u, v))


def radii_of_curvature_m(lat: float) -> tuple[float, float]:
    """(meridional M, prime vertical N) radii of curvature of WGS84 at a latitude in degrees."""
    s = math.sin(math.radians(lat))
    w = 1 - _E2 * s * s
    n = _A_M / math.sqrt(w)
    return n * (1 - _E2) / w, n


class Gnomonic(NamedTuple):
    """Gnomonic plane tangent at `centre`, in metres: east scaled by N, north by M there.

    The scaling makes the plane match the WGS84 metric at its centre to first order, so planar
    nearest points are nearly the geodesic nearest points; distances are still measured with
    GeographicLib afterwards. A NamedTuple because one is built per pair on the hot path.
    """

    centre: Vec3
    east: Vec3
    north: Vec3
    n_m: float
    m_m: float

    @classmethod
    def at(cls, centre: Vec3) -> Gnomonic:
        """The plane tangent at a unit vector (any orthonormal basis at a pole, where M == N)."""
        x, y, z = centre
        h = math.hypot(x, y)
        east = (-y / h, x / h, 0.0) if h > 1e-15 else (0.0, 1.0, 0.0)
        north = (  # centre × east
            y * east[2] - z * east[1],
            z * east[0] - x * east[2],
            x * east[1] - y * east[0],
        )
        w = 1 - _E2 * z * z  # z is the sine of the geodetic latitude on this sphere
        n_m = _A_M / math.sqrt(w)
        return cls(centre, east, north, n_m, n_m * (1 - _E2) / w)

    def forward(self, v: Vec3) -> tuple[float, float]:
        """Planar (x, y) metres of a unit vector in the front hemisphere."""
        d = dot(v, self.centre)
        return dot(v, self.east) * self.n_m / d, dot(v, self.north) * self.m_m / d

    def inverse_vec(self, x: float, y: float) -> Vec3:
        """The direction (not normalised) of planar (x, y)."""
        gx, gy = x / self.n_m, y / self.m_m
        c, e, n = self.centre, self.east, self.north
        return (
            c[0] + gx * e[0] + gy * n[0],
            c[1] + gx * e[1] + gy * n[1],
            c[2] + gx * e[2] + gy * n[2],
        )

    def inverse(self, x: float, y: float) -> LonLat:
        """Longitude and latitude at planar (x, y)."""
        return to_lonlat(self.inverse_vec(x, y))
