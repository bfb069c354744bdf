"""Plain-data views of domain objects for ``--json`` output and Rich tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vouchers.domain.codes import CodeFormat
from vouchers.domain.lifecycle import BusinessDefinition
from vouchers.domain.lots import Lot
from vouchers.domain.money import Money, currency
from vouchers.domain.voucher_types import VoucherType
from vouchers.services.ports import HistoryEntry
from vouchers.services.processes import ProcessOutcome
from vouchers.services.vouchers import VoucherView

# The figure shown beside a format's entropy: an attacker's guesses against live codes.
RISK_GUESSES = 1_000_000
RISK_LIVE_CODES = 1_000_000


def money(minor: int | None, code: str) -> str | None:
    return None if minor is None else str(Money(minor, currency(code)))


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def code_format(fmt: CodeFormat) -> dict[str, Any]:
    return {
        "alphabet": fmt.alphabet.name,
        "symbols": fmt.alphabet.symbols,
        "length": fmt.length,
        "prefix": fmt.prefix,
        "group_size": fmt.group_size,
        "check": str(fmt.check),
        "allow_weak": fmt.allow_weak,
        "entropy_bits": round(fmt.entropy_bits, 1),
        "example": fmt.mask("0000"),
        "risk": {
            "guesses": RISK_GUESSES,
            "live_codes": RISK_LIVE_CODES,
            "probability": fmt.risk(RISK_LIVE_CODES, RISK_GUESSES),
        },
    }


def voucher_type(vt: VoucherType) -> dict[str, Any]:
    cur = vt.currency.code
    return {
        "id": vt.id,
        "alternative_code": vt.alternative_code,
        "name": vt.name,
        "kind": str(vt.kind),
        "currency": cur,
        "value_option": str(vt.value_option),
        "value": money(vt.value_minor, cur),
        "extra_value": money(vt.extra_value_minor, cur),
        "bonus": {
            "minimum_activation": money(vt.bonus.minimum_activation_minor, cur),
            "multiplier": str(vt.bonus.multiplier),
            "addition": money(vt.bonus.addition_minor, cur),
        },
        "products": list(vt.products),
        "product_types": list(vt.product_types),
        "code_format": code_format(vt.code_format),
        "default_payment_type": vt.default_payment_type,
        "plan": vt.plan_code,
        "validity_days": vt.validity_days,
        "auto_activate": vt.auto_activate,
        "notes": vt.notes,
        "created_at": iso(vt.created_at),
        "created_by": vt.created_by,
    }


def lot(lt: Lot) -> dict[str, Any]:
    return {
        "id": lt.id,
        "alternative_code": lt.alternative_code,
        "type": lt.type_code,
        "type_id": lt.type_id,
        "count": lt.count,
        "generated_count": lt.generated_count,
        "state": str(lt.state),
        "value": money(lt.value_minor, lt.currency),
        "extra_value": money(lt.extra_value_minor, lt.currency),
        "currency": lt.currency,
        "effective_at": iso(lt.effective_at),
        "expires_at": iso(lt.expires_at),
        "prefix": lt.prefix,
        "description": lt.description,
        "created_at": iso(lt.created_at),
        "created_by": lt.created_by,
        "posted_at": iso(lt.posted_at),
    }


def voucher(view: VoucherView) -> dict[str, Any]:
    v = view.voucher
    return {
        "number": v.number,
        "code": view.masked_code,
        "state": str(view.state),
        "lot_id": v.lot_id,
        "type_id": v.type_id,
        "value": money(v.value_minor, v.currency),
        "extra_value": money(v.extra_value_minor, v.currency),
        "currency": v.currency,
        "effective_at": iso(v.effective_at),
        "expires_at": iso(v.expires_at),
        "customer_id": v.customer_id,
        "used_at": iso(v.used_at),
        "created_at": iso(v.created_at),
    }


def outcome(done: ProcessOutcome) -> dict[str, Any]:
    return {"process": str(done.process), "count": done.count}


def history_entry(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "at": iso(entry.at),
        "process": entry.process,
        "field": entry.field,
        "from_value": entry.from_value,
        "to_value": entry.to_value,
        "by": entry.by,
        "note": entry.note,
        "run_id": entry.run_id,
    }


def definition(bd: BusinessDefinition) -> dict[str, Any]:
    return {
        "id": bd.id,
        "alternative_code": bd.alternative_code,
        "name": bd.name,
        "active": bd.active,
        "restrictions": {
            str(process): sorted(str(s) for s in states)
            for process, states in sorted(bd.restrictions.items())
        },
    }
