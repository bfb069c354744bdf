"""Plain-data views of domain objects for ``--json`` output and Rich tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vouchers.domain.codes import RISK_GUESSES, RISK_LIVE_CODES, CodeFormat
from vouchers.domain.customers import Customer
from vouchers.domain.ledger import Wallet
from vouchers.domain.lifecycle import BusinessDefinition
from vouchers.domain.lots import Lot
from vouchers.domain.money import format_minor
from vouchers.domain.redemptions import Redemption
from vouchers.domain.voucher_types import VoucherType
from vouchers.services.ledger import LedgerCheck
from vouchers.services.ports import HistoryEntry, JournalEntry
from vouchers.services.processes import ProcessOutcome
from vouchers.services.redemptions import RedemptionResult
from vouchers.services.vouchers import VoucherView
from vouchers.services.wallets import DebitResult


def money(minor: int | None, code: str) -> str | None:
    return None if minor is None else format_minor(minor, code)


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


def customer(c: Customer) -> dict[str, Any]:
    return {
        "id": c.id,
        "external_ref": c.external_ref,
        "name": c.name,
        "phone": c.phone,
        "email": c.email,
        "kyc_verified": c.kyc_verified,
        "status": str(c.status),
        "created_at": iso(c.created_at),
        "created_by": c.created_by,
    }


def balance(code: str, paid_minor: int, bonus_minor: int) -> dict[str, Any]:
    """One currency's balances: paid, bonus and what can be spent in all."""
    return {
        "currency": code,
        "paid": money(paid_minor, code),
        "bonus": money(bonus_minor, code),
        "total": money(paid_minor + bonus_minor, code),
    }


def wallet(w: Wallet) -> dict[str, Any]:
    return balance(w.currency, w.paid_minor, w.bonus_minor)


def redemption(r: Redemption) -> dict[str, Any]:
    cur, credit = r.credit.currency, r.credit
    return {
        "id": r.id,
        "voucher_number": r.voucher_number,
        "customer_id": r.customer_id,
        "type_id": r.type_id,
        "lot_id": r.lot_id,
        "status": str(r.status),
        "channel": str(r.channel),
        "currency": cur,
        "value": money(credit.value_minor, cur),
        "topup": money(credit.topup_minor, cur),
        "paid": money(credit.paid_minor, cur),
        "bonus": money(credit.bonus_minor, cur),
        "payment": money(credit.payment_minor, cur),
        "product": r.product,
        "purchase_reference": r.purchase_reference,
        "payment_reference": r.payment_reference,
        "payment_type": r.payment_type,
        "redeemed_at": iso(r.redeemed_at),
        "redeemed_by": r.redeemed_by,
        "caller": r.caller,
        "client_address": r.client_address,
        "reversed_at": iso(r.reversed_at),
        "reversed_by": r.reversed_by,
    }


def redemption_result(result: RedemptionResult, *, dry_run: bool) -> dict[str, Any]:
    """What a redemption credited (or, under ``dry_run``, would credit) and the balances
    after; the balances are None for a dry run."""
    cur = result.currency
    after = None
    if result.balance_paid_minor is not None and result.balance_bonus_minor is not None:
        after = balance(cur, result.balance_paid_minor, result.balance_bonus_minor)
    return {
        "dry_run": dry_run,
        "redemption_id": result.redemption_id,
        "voucher_number": result.voucher_number,
        "customer": result.customer,
        "currency": cur,
        "value": money(result.value_minor, cur),
        "topup": money(result.topup_minor, cur),
        "paid": money(result.paid_minor, cur),
        "bonus": money(result.bonus_minor, cur),
        "payment": money(result.payment_minor, cur),
        "product": result.product,
        "purchase_reference": result.purchase_reference,
        "payment_type": result.payment_type,
        "channel": result.channel,
        "redeemed_at": result.redeemed_at,
        "balance": after,
        "replayed": result.replayed,
        "events": list(result.events),
    }


def debit_result(result: DebitResult) -> dict[str, Any]:
    cur = result.currency
    return {
        "entry_id": result.entry_id,
        "customer": result.customer,
        "currency": cur,
        "amount": money(result.amount_minor, cur),
        "from_bonus": money(result.bonus_minor, cur),
        "from_paid": money(result.paid_minor, cur),
        "reference": result.reference,
        "balance": balance(cur, result.balance_paid_minor, result.balance_bonus_minor),
        "replayed": result.replayed,
    }


def journal_entry(entry: JournalEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "kind": str(entry.kind),
        "at": iso(entry.at),
        "by": entry.by,
        "memo": entry.memo,
        "reference": entry.reference,
        "redemption_id": entry.redemption_id,
        "postings": [
            {
                "account": str(p.account),
                "customer_id": p.customer_id,
                "amount": money(p.amount_minor, p.currency),
            }
            for p in entry.postings
        ],
    }


def ledger_check(check: LedgerCheck) -> dict[str, Any]:
    return {
        "ok": check.ok,
        "totals": [
            {"account": account, "currency": code, "balance": money(total, code)}
            for (account, code), total in sorted(check.totals.items())
        ],
        "unbalanced_entries": [
            {"entry_id": entry_id, "currency": code, "sum": money(total, code)}
            for entry_id, code, total in check.unbalanced_entries
        ],
        "wallet_mismatches": [
            {
                "customer_id": customer_id,
                "currency": code,
                "paid": money(paid, code),
                "paid_from_journal": money(paid_journal, code),
                "bonus": money(bonus, code),
                "bonus_from_journal": money(bonus_journal, code),
            }
            for customer_id, code, paid, paid_journal, bonus, bonus_journal in (
                check.wallet_mismatches
            )
        ],
    }


def setting_change(change: dict[str, Any]) -> dict[str, Any]:
    """A setting change; ``old`` or ``new`` None means the default."""
    at = change["at"]
    return {
        "key": change["key"],
        "old": change["old"],
        "new": change["new"],
        "at": iso(at) if isinstance(at, datetime) else at,
        "by": change["by"],
    }
