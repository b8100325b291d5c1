"""Importing a reseller's existing VIP customers from a CSV file: one row per customer
product line, the customer's VIP ID, anniversary date and the licenses it holds now.

Everything is validated first, every row, and nothing is written while any problem
remains. A valid file is then written in one transaction: each customer `active` with its
anniversary date (or `invited` when it has none), its licenses as one opening order of type
`imported` (counted as purchased licenses of the current term, with no return window), its
VIP admin invited by mail unless told not to, an audit event per customer, and one for the
run with the file's name and SHA-256. Importing the same file twice writes nothing the
second time: its VIP IDs exist by then.
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from vip.extensions import db
from vip.models import (
    Customer,
    CustomerStatus,
    LicenseType,
    MarketSegment,
    Order,
    OrderLine,
    OrderStatus,
    OrderType,
    Product,
    User,
)
from vip.models.customers import search_key
from vip.models.discount_levels import level_for
from vip.services import audit, events
from vip.services.access import require
from vip.services.accounts import PERSON_NAME_LENGTH
from vip.services.authorizations import LICENSE_LIMITS, PO_NUMBER_MAX, product_refusal
from vip.services.customers import COMPANY_NAME_LENGTH
from vip.services.errors import DomainError, LocalizedDate, LocalizedNumber
from vip.services.free_text import FORBIDDEN_CHARACTERS, check_free_text
from vip.services.invitations import new_invitation, queue_invitation_mail
from vip.services.terms import add_months

MAX_ROWS = 50_000
WRITE_BATCH = 500  # customers flushed together
#: Files above this many rows import with progress shown (the page polls, the CLI a bar).
PROGRESS_FROM_ROWS = 1_000

#: Each column's name in English (the first) and in Swedish; matched case-insensitively,
#: spaces and hyphens read as underscores.
COLUMNS: dict[str, tuple[str, ...]] = {
    "company_name": ("company_name", "företagsnamn"),
    "vip_id": ("vip_id",),
    "market_segment": ("market_segment", "marknadssegment"),
    "admin_name": ("admin_name", "admin_namn"),
    "admin_email": ("admin_email", "admin_epost", "admin_e_post"),
    "admin_language": ("admin_language", "admin_språk"),
    "anniversary_date": ("anniversary_date", "årsdag"),
    "license_type": ("license_type", "licenstyp"),
    "sku": ("sku",),
    "quantity": ("quantity", "antal", "antal_licenser"),
    "po_number": ("po_number", "inköpsordernummer"),
}
REQUIRED = ("company_name", "admin_name", "admin_email")
#: The columns every row of one customer must agree on.
CUSTOMER_COLUMNS = (
    "company_name",
    "market_segment",
    "admin_name",
    "admin_email",
    "admin_language",
    "anniversary_date",
)
SEGMENTS = {
    "com": MarketSegment.COMMERCIAL,
    "commercial": MarketSegment.COMMERCIAL,
    "edu": MarketSegment.EDUCATION,
    "education": MarketSegment.EDUCATION,
    "gov": MarketSegment.GOVERNMENT,
    "government": MarketSegment.GOVERNMENT,
}


@dataclass(frozen=True)
class Problem:
    row: int  # the file's line number, the header being row 1; 0 for the file as a whole
    column: str  # the column's canonical name, or "" for the whole row or file
    message: object  # a lazy, translatable message

    def as_row(self) -> tuple[int, str, str]:
        return self.row, self.column, str(self.message)


@dataclass
class CustomerLine:
    row: int
    product: Product
    sku: str
    quantity: int
    po_number: str | None


@dataclass
class ImportedCustomer:
    """One customer of the file: its rows agree on these, and it has these lines."""

    row: int  # its first row
    company_name: str
    vip_id: str | None
    market_segment: MarketSegment
    admin_name: str
    admin_email: str
    admin_language: str
    anniversary: date | None
    lines: list[CustomerLine] = field(default_factory=list)

    @property
    def licenses(self) -> int:
        return sum(line.quantity for line in self.lines)


@dataclass
class ImportCheck:
    """What a file holds and what is wrong with it."""

    file_name: str
    sha256: str
    rows: int = 0
    customers: list[ImportedCustomer] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    #: Each column's canonical name -> its header as the file writes it.
    headers: dict[str, str] = field(default_factory=dict)

    def column_label(self, column: str) -> str:
        """How the file names a column, for the reader of the problems."""
        return self.headers.get(column, column)

    @property
    def valid(self) -> bool:
        return not self.problems and bool(self.customers)

    @property
    def lines(self) -> int:
        return sum(len(c.lines) for c in self.customers)

    @property
    def licenses(self) -> int:
        return sum(c.licenses for c in self.customers)

    def invitations(self, invite: bool) -> int:
        return len(self.customers) if invite else 0

    def problem(self, row: int, column: str, message) -> None:
        self.problems.append(Problem(row, column, message))


@dataclass(frozen=True)
class ImportResult:
    customers: int
    lines: int
    licenses: int
    invitations: int


class ImportRefused(DomainError):
    """The file as a whole cannot be read (encoding, header, size)."""


# -- Reading the file -------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """UTF-8 with or without a byte-order mark, else Windows-1252 (Excel's Swedish
    default): every byte sequence is one of the two."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _delimiter(text: str) -> str:
    header = next((line for line in text.splitlines() if line.strip()), "")
    return ";" if header.count(";") > header.count(",") else ","


def _canonical(header: str) -> str | None:
    key = "_".join(header.strip().lower().replace("-", " ").split())
    for canonical, names in COLUMNS.items():
        if key in names:
            return canonical
    return None


def read_rows(data: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(row number, cells)]) of a CSV file; quoted fields, CRLF and either
    separator. Blank lines are skipped (and keep their numbers)."""
    text = decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = cells
            continue
        rows.append((reader.line_num, cells))
        if len(rows) > MAX_ROWS:
            raise ImportRefused(
                _l(
                    "The file has more than %(count)s rows; split it.",
                    count=LocalizedNumber(MAX_ROWS),
                )
            )
    if header is None:
        raise ImportRefused(_l("The file is empty."))
    return header, rows


# -- Checking it ------------------------------------------------------------------------------


def check_file(*, data: bytes, file_name: str, default_language: str, today: date) -> ImportCheck:
    """Every problem of every row, and the customers the file would import."""
    check = ImportCheck(file_name=file_name, sha256=hashlib.sha256(data).hexdigest())
    try:
        header, rows = read_rows(data)
    except ImportRefused as error:
        check.problem(0, "", error.message)
        return check
    except csv.Error as error:
        check.problem(0, "", _l("The file is not a readable CSV file (%(detail)s).", detail=error))
        return check
    check.rows = len(rows)
    index = _check_header(check, header)
    if check.problems:
        return check
    if not rows:
        check.problem(0, "", _l("The file has no rows below its header."))
        return check
    products = _products_by_sku()
    customers: dict[str, ImportedCustomer] = {}
    for number, cells in rows:
        values = {name: (cells[i].strip() if i < len(cells) else "") for name, i in index.items()}
        if len(cells) > len(header) and any(cell.strip() for cell in cells[len(header) :]):
            check.problem(number, "", _l("The row has more fields than the header."))
        parsed = _check_row(check, number, values, default_language, today, products)
        if parsed is None:
            continue
        key = parsed.vip_id or f"name:{parsed.company_name.casefold()}"
        known = customers.get(key)
        if known is None:
            customers[key] = parsed
        else:
            _check_same_customer(check, number, known, parsed)
            _merge_lines(known, parsed.lines)
    _check_vip_ids_are_new(check, customers.values())
    order = {name: position for position, name in enumerate(COLUMNS)}
    check.problems.sort(key=lambda p: (p.row, order.get(p.column, len(order))))
    check.customers = list(customers.values()) if not check.problems else []
    return check


def _check_header(check: ImportCheck, header: list[str]) -> dict[str, int]:
    index: dict[str, int] = {}
    for position, name in enumerate(header):
        canonical = _canonical(name)
        if canonical is None:
            if name.strip():
                check.problem(1, name.strip(), _l("Unknown column %(name)s.", name=name.strip()))
            continue
        if canonical in index:
            check.problem(1, canonical, _l("The column %(name)s appears twice.", name=name.strip()))
            continue
        index[canonical] = position
        check.headers[canonical] = name.strip()
    for canonical in REQUIRED:
        if canonical not in index:
            check.problem(1, canonical, _l("The column %(name)s is missing.", name=canonical))
    return index


def _products_by_sku() -> dict[str, Product]:
    products: dict[str, Product] = {}
    for product in db.session.scalars(select(Product)):
        products[product.sku.upper()] = product
        products.setdefault(product.renewal_sku.upper(), product)
    return products


def _check_row(
    check: ImportCheck,
    number: int,
    values: dict[str, str],
    default_language: str,
    today: date,
    products: dict[str, Product],
) -> ImportedCustomer | None:
    before = len(check.problems)

    def refuse(column: str, message) -> None:
        check.problem(number, column, message)

    checked = check_free_text(values.get("company_name"), length=COMPANY_NAME_LENGTH)
    company_name = checked.text
    if checked.problem is not None:
        refuse("company_name", checked.problem)
    vip_id = values.get("vip_id", "") or None
    if vip_id is not None and not (len(vip_id) == 10 and vip_id.isdigit()):
        refuse("vip_id", _l("A VIP ID is 10 digits; leave it empty to issue one now."))
    segment_text = values.get("market_segment", "").lower() or "com"
    segment = SEGMENTS.get(segment_text)
    if segment is None:
        refuse("market_segment", _l("Use COM, EDU or GOV."))
    checked = check_free_text(values.get("admin_name"), length=PERSON_NAME_LENGTH)
    admin_name = checked.text
    if checked.problem is FORBIDDEN_CHARACTERS:
        refuse("admin_name", checked.problem)
    elif checked.problem is not None:
        refuse("admin_name", _l("Enter the VIP admin's name (at most 120 characters)."))
    admin_email = values.get("admin_email", "")
    try:
        admin_email = validate_email(admin_email, check_deliverability=False).normalized
    except EmailNotValidError:
        refuse("admin_email", _l("Enter a valid email address."))
    language = values.get("admin_language", "").lower() or default_language
    if language not in ("sv", "en"):
        refuse("admin_language", _l("Use sv or en."))
    anniversary = None
    if text := values.get("anniversary_date", ""):
        try:
            anniversary = date.fromisoformat(text)
            if len(text) != 10:
                raise ValueError(text)
        except ValueError:
            refuse("anniversary_date", _l("Use a real date written YYYY-MM-DD."))
        else:
            if anniversary > add_months(today, 12):
                refuse(
                    "anniversary_date",
                    _l(
                        "An anniversary is at most a year ahead (%(date)s).",
                        date=LocalizedDate(add_months(today, 12)),
                    ),
                )
    lines = _check_line(check, number, values, segment, anniversary, products, refuse)
    if len(check.problems) > before:
        return None
    return ImportedCustomer(
        row=number,
        company_name=company_name,
        vip_id=vip_id,
        market_segment=segment,
        admin_name=admin_name,
        admin_email=admin_email,
        admin_language=language,
        anniversary=anniversary,
        lines=lines,
    )


def _check_line(check, number, values, segment, anniversary, products, refuse):
    sku_text = values.get("sku", "")
    quantity_text = values.get("quantity", "")
    type_text = values.get("license_type", "").lower()
    po_checked = check_free_text(values.get("po_number"), length=(0, PO_NUMBER_MAX), printable=True)
    po_number = po_checked.text or None
    if not sku_text and not quantity_text:
        if anniversary is not None:
            refuse("sku", _l("A customer with an anniversary date holds licenses: enter the SKU."))
        return []
    if anniversary is None and not values.get("anniversary_date"):
        refuse(
            "anniversary_date",
            _l("A customer with licenses has an anniversary date: enter it (YYYY-MM-DD)."),
        )
    product = products.get(sku_text.upper())
    if product is None:
        refuse("sku", _l("Unknown SKU %(sku)s.", sku=sku_text or "–"))
    license_type = None
    if type_text:
        try:
            license_type = LicenseType(type_text)
        except ValueError:
            refuse("license_type", _l("Use Enterprise or Team."))
    if product is not None and segment is not None:
        wanted = license_type or product.license_type
        probe = Customer(market_segment=segment)
        if refusal := product_refusal(product, customer=probe, license_type=wanted):
            refuse("license_type" if product.license_type != wanted else "sku", refusal)
    quantity = None
    try:
        quantity = int(quantity_text)
    except ValueError:
        refuse("quantity", _l("Enter a whole number of licenses."))
    if quantity is not None and product is not None:
        limit = LICENSE_LIMITS[product.license_type]
        if not 1 <= quantity <= limit:
            refuse("quantity", _l("Use 1 to %(count)s licenses.", count=LocalizedNumber(limit)))
    if po_checked.problem is not None:
        refuse("po_number", po_checked.problem)
    if product is None or quantity is None:
        return []
    return [CustomerLine(number, product, sku_text.upper(), quantity, po_number)]


def _check_same_customer(
    check: ImportCheck, number: int, known: ImportedCustomer, row: ImportedCustomer
) -> None:
    values = {
        "company_name": lambda c: c.company_name,
        "market_segment": lambda c: c.market_segment,
        "admin_name": lambda c: c.admin_name,
        "admin_email": lambda c: c.admin_email.lower(),
        "admin_language": lambda c: c.admin_language,
        "anniversary_date": lambda c: c.anniversary,
    }
    for column in CUSTOMER_COLUMNS:
        if values[column](known) != values[column](row):
            check.problem(
                number,
                column,
                _l(
                    "Differs from row %(row)d of the same customer.",
                    row=known.row,
                ),
            )


def _merge_lines(customer: ImportedCustomer, lines: list[CustomerLine]) -> None:
    """Two rows of one product add up (as two rows of a purchase authorization do)."""
    for line in lines:
        same = next((x for x in customer.lines if x.product.id == line.product.id), None)
        if same is None:
            customer.lines.append(line)
        else:
            same.quantity += line.quantity
            same.po_number = same.po_number or line.po_number


def _check_vip_ids_are_new(check: ImportCheck, customers: Iterable[ImportedCustomer]) -> None:
    given = {c.vip_id: c.row for c in customers if c.vip_id}
    taken: set[str] = set()
    ids = list(given)
    for start in range(0, len(ids), 900):
        taken.update(
            db.session.scalars(
                select(Customer.vip_id).where(Customer.vip_id.in_(ids[start : start + 900]))
            )
        )
    for vip_id in sorted(taken, key=given.get):
        # Any reseller's: never say whose.
        check.problem(given[vip_id], "vip_id", _l("This VIP ID already exists in the console."))


# -- Writing it -------------------------------------------------------------------------------


def _new_vip_ids(count: int, reserved: set[str]) -> list[str]:
    """`count` fresh 10-digit VIP IDs, none in the console or in the file."""
    fresh: list[str] = []
    while len(fresh) < count:
        candidates = {str(secrets.randbelow(9 * 10**9) + 10**9) for _ in range(count - len(fresh))}
        candidates -= reserved
        taken = set(
            db.session.scalars(select(Customer.vip_id).where(Customer.vip_id.in_(candidates)))
        )
        for candidate in candidates - taken:
            fresh.append(candidate)
            reserved.add(candidate)
    return fresh


def import_customers(
    *,
    user: User,
    check: ImportCheck,
    invite: bool,
    today: date,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Writes a checked file in one transaction (nothing at all if anything fails)."""
    require(user, "customers.import")
    if not check.valid:
        raise DomainError(_l("The file has problems; nothing was imported."))
    customers = check.customers
    reserved = {c.vip_id for c in customers if c.vip_id}
    issued = iter(_new_vip_ids(sum(1 for c in customers if not c.vip_id), reserved))
    total = len(customers)
    reseller = user.reseller
    try:
        for start in range(0, total, WRITE_BATCH):
            batch = [
                (item, _new_customer(user, reseller, item, item.vip_id or next(issued)))
                for item in customers[start : start + WRITE_BATCH]
            ]
            db.session.flush()  # one round for the batch's customers, orders and lines
            for item, customer in batch:
                _audit_customer(user, item, customer)
                events.customer_created(customer, source="import")
            if invite:  # the VIP admins' invitations, queued in the same transaction
                links = [new_invitation(customer=c, today=today) for _, c in batch]
                db.session.flush()
                for invitation in links:
                    queue_invitation_mail(invitation=invitation, actor=user)
            if progress is not None:
                progress(min(start + WRITE_BATCH, total), total)
        audit.record(
            actor=user,
            action="customers.imported",
            reseller_id=user.reseller_id,
            object_type="import",
            object_id=check.sha256[:16],
            details={
                "file": check.file_name,
                "sha256": check.sha256,
                "customers": total,
                "lines": check.lines,
                "licenses": check.licenses,
                "invitations": check.invitations(invite),
            },
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return ImportResult(total, check.lines, check.licenses, check.invitations(invite))


def _new_customer(user: User, reseller, item: ImportedCustomer, vip_id: str) -> Customer:
    customer = Customer(
        reseller_id=user.reseller_id,
        company_name=item.company_name,
        country=reseller.country,
        market_segment=item.market_segment,
        admin_name=item.admin_name,
        admin_email=item.admin_email,
        admin_language=item.admin_language,
        vip_id=vip_id,
        status=CustomerStatus.ACTIVE if item.anniversary else CustomerStatus.INVITED,
        anniversary_date=item.anniversary,
        search_key=search_key(item.company_name, vip_id, item.admin_email),
        # The licenses it holds set its level, as a renewal's would.
        discount_level=level_for(
            sum(line.quantity for line in item.lines if not line.product.consumable)
        ),
    )
    # Known already: no lazy load per customer when its invitation is issued.
    customer.reseller = reseller
    customer.invitations = []
    db.session.add(customer)
    if item.lines:
        order = Order(
            customer=customer,
            vendor_order_number=f"IMP{vip_id}",
            order_type=OrderType.IMPORTED,
            authorization_id=None,
            # The licenses run the whole current term, which ends on the anniversary.
            order_date=add_months(item.anniversary, -12),
            duration_months=12,
            term_ends_on=item.anniversary,
            status=OrderStatus.PLACED,
            customer_po_number=next((x.po_number for x in item.lines if x.po_number), None),
            created_by_id=user.id,
        )
        db.session.add(order)
        for line in item.lines:
            db.session.add(
                OrderLine(
                    order=order,
                    product_id=line.product.id,
                    sku=line.sku,
                    quantity=line.quantity,
                    status=OrderStatus.PLACED,
                )
            )
    return customer


def _audit_customer(user: User, item: ImportedCustomer, customer: Customer) -> None:
    audit.record(
        actor=user,
        action="customer.imported",
        customer=customer,
        object_type="customer",
        object_id=customer.id,
        details={
            "vip_id": customer.vip_id,
            "anniversary_date": item.anniversary.isoformat() if item.anniversary else None,
            "lines": [[line.sku, line.quantity] for line in item.lines],
        },
    )
