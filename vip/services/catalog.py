"""The product catalog, shipped as CSV and upserted by `vip load-catalog`."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from vip.extensions import db
from vip.models import LicenseType, MarketSegment, Product

CATALOG_CSV = Path(__file__).resolve().parent.parent / "catalog" / "products.csv"


@dataclass(frozen=True)
class CatalogLoad:
    created: int
    updated: int
    unchanged: int


def _rows(path: Path):
    with path.open(encoding="utf-8", newline="") as handle:
        lines = (line for line in handle if not line.startswith("#"))
        yield from csv.DictReader(lines)


def load_catalog(path: Path = CATALOG_CSV) -> CatalogLoad:
    """Inserts new SKUs and updates changed ones; running it twice changes nothing."""
    existing = {product.sku: product for product in db.session.scalars(select(Product))}
    created = updated = unchanged = 0
    for row in _rows(path):
        values = {
            "name": row["name"].strip(),
            "license_type": LicenseType(row["license_type"].strip()),
            "market_segment": MarketSegment(row["market_segment"].strip()),
            "education_device": row["education_device"].strip() == "1",
            "renewal_sku": row["renewal_sku"].strip(),
            "active": row["active"].strip() == "1",
            "consumable": (row.get("consumable") or "0").strip() == "1",
        }
        sku = row["sku"].strip()
        product = existing.get(sku)
        if product is None:
            db.session.add(Product(sku=sku, **values))
            created += 1
        elif any(getattr(product, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(product, key, value)
            updated += 1
        else:
            unchanged += 1
    db.session.commit()
    return CatalogLoad(created=created, updated=updated, unchanged=unchanged)
