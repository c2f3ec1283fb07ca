"""Metrics benchmark: the PCC quarterly report and the confidence endpoint over ten million votes
and a million reports, beside the same figures computed with plain SQL from the raw rows.

Run by hand from the repository root (never by the test suite):

    .venv/bin/python bench/metrics.py                          # 10,000,000 votes, 1,000,000 reports
    .venv/bin/python bench/metrics.py --scale 0.001 --check    # small, and `copa reconcile` must agree
    .venv/bin/python bench/metrics.py --help

It creates a throwaway PostgreSQL database ``copa_bench_metrics_<random>`` on 127.0.0.1:5432,
migrates it and loads the demo data (``flask copa seed-demo``), then loads two financial years of
synthetic data (1 April 2024 to 31 March 2026: 2024/25 is the baseline year, 2025/26 the current
one) with COPY, not the API: votes and event tallies, reports and their referrals, feedback with
complaint cases and allegations, and the 101 call statistics. The rollups hold what the product
would have kept for those rows: computed while generating with the product's own definition
(``copa.metrics.rollups.contributions``), or with ``--rollups repair`` by
``copa.metrics.reconcile.repair()`` after loading. Then it serves copa with gunicorn (production
settings, random secrets), signs in as the demo analyst and times, one request at a time,
``GET /v1/pcc-report?year=2025&quarter=3`` and ``GET /v1/metrics/confidence?from=2025-10&to=2025-12``
beside plain SQL over the raw tables computing the same figures (the baseline). It prints the
medians and p95s, the ratios, the targets met or not, and a markdown table for the README.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import secrets
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from submit import (  # noqa: E402 - bench/ is not a package
    ROOT,
    BenchError,
    base_environment,
    log,
    machine,
    postgresql_problem,
    run_checked,
    serving,
    tail,
)

sys.path.insert(0, str(ROOT))

from copa.confidence.models import Tally, Vote  # noqa: E402
from copa.feedback.models import Allegation, ComplaintCase, Feedback  # noqa: E402
from copa.metrics.models import ROLLUPS  # noqa: E402
from copa.metrics.rollups import contributions  # noqa: E402
from copa.periods import LONDON, Quarter  # noqa: E402
from copa.reports.models import Report  # noqa: E402
from copa.routing.models import Referral  # noqa: E402

PCC_PATH = "/v1/pcc-report?year=2025&quarter=3"
CONFIDENCE_PATH = "/v1/metrics/confidence?from=2025-10&to=2025-12"
REPORT_QUARTER = Quarter(2025, 3)
BASELINE_YEAR, CURRENT_YEAR = 2024, 2025
TARGET_MS = {"pcc": 50.0, "confidence": 20.0}
ANALYST = "analyst@copa.example"  # copa/demo.py DEMO_USERS
ADMIN = "admin@copa.example"

FIRST_DAY = date(2024, 4, 1)  # the baseline year's first day
END_DAY = date(2026, 4, 1)  # the day after the current year's last
VOTES_AT_SCALE_1 = 10_000_000
REPORTS_AT_SCALE_1 = 1_000_000
TALLIES_AT_SCALE_1 = 4_000  # event counter sessions, ~55 answers each
FEEDBACK_PER_REPORT = 0.05
REPLACED_SHARE = 0.02  # of the vote rows: kept but no longer counted (replaced in the quarter)
NO_DEVICE_SHARE = 0.05  # votes whose device was erased since
AUTHORITY_VOTE_SHARE = 0.15  # votes for a local authority as a whole rather than a ward
CHUNK_ROWS = 250_000
NULL = "\\N"

# Ids are counters written as UUIDs, one prefix per table: unique, cheap to generate, and the
# measured endpoints read no id index.
ID_PREFIX = {
    name: f"{number:08x}-0000-4000-8000-"
    for number, name in enumerate(
        (
            "device",
            "vote",
            "tally",
            "report",
            "referral",
            "feedback",
            "complaint",
            "allegation",
            "action",
            "call_statistics",
        ),
        start=1,
    )
}

OPTIONS = (
    "not_at_all_confident",
    "not_very_confident",
    "neither",
    "quite_confident",
    "very_confident",
)
# Population of each local authority (ONS mid-2022, rounded): how votes and reports spread.
POPULATION = {"E06000001": 93_000, "E06000002": 144_000, "E06000003": 137_000, "E06000004": 199_000}
# Confidence leans per authority (positive: more confident), and rises a little each quarter.
CONFIDENCE_LEAN = {"E06000001": 0.15, "E06000002": -0.25, "E06000003": 0.05, "E06000004": 0.10}
CONFIDENCE_TREND = 0.03

# COPA's FOI mix (6-23-24: asb 638, vehicle asb 365, drugs 345, questions 187, suspicious 117,
# speeding 50, hate 8) plus the non-policing matters it routes to councils, landlords, health.
CATEGORY_WEIGHTS = {
    "asb": 638,
    "vehicle_asb": 365,
    "drugs": 345,
    "question": 187,
    "suspicious": 117,
    "speeding": 50,
    "hate_incident": 8,
    "fly_tipping": 120,
    "noise": 60,
    "abandoned_vehicle": 40,
    "street_lighting": 30,
    "highways": 40,
    "graffiti": 25,
    "dog_fouling": 20,
    "housing_asb": 45,
    "welfare_concern": 30,
}
# The share of each group's reports sent to a partner (a referral): about half overall; the rest
# are handled by OPCC staff (answered, signposted, closed, duplicates) or still waiting.
ROUTED_SHARE = {"policing": 0.45, "opcc": 0.35, "non_policing": 0.9}
# Answers to a category's extra question, how often, and the partner they route to (else the
# category's default destination).
ANSWERS: dict[str, list[tuple[str, float, str | None]]] = {
    "fly_tipping": [
        ('{"size": "small"}', 0.85, None),
        ('{"size": "large"}', 0.15, "environment-agency"),
    ],
    "housing_asb": [
        ('{"landlord": "thirteen"}', 0.40, "thirteen-housing"),
        ('{"landlord": "habinteg"}', 0.15, "habinteg-housing"),
        ('{"landlord": "other"}', 0.30, None),
        ('{"landlord": "unknown"}', 0.15, None),
    ],
    "vehicle_asb": [
        ('{"vehicle_type": "off_road_bike"}', 0.55, None),
        ('{"vehicle_type": "quad_bike"}', 0.20, None),
        ('{"vehicle_type": "car"}', 0.20, None),
        ("{}", 0.05, None),
    ],
    "speeding": [
        ('{"time_of_day": "evening"}', 0.35, None),
        ('{"time_of_day": "night"}', 0.25, None),
        ('{"time_of_day": "afternoon"}', 0.20, None),
        ('{"time_of_day": "all_day"}', 0.20, None),
    ],
}
DESCRIPTIONS = {
    "asb": "Group of youths shouting and throwing stones at windows most evenings.",
    "vehicle_asb": "Off-road bikes racing up and down the back lane and across the field.",
    "drugs": "Cars stopping outside the same house for a few minutes at all hours.",
    "question": "What is the Commissioner doing about response times in our area?",
    "suspicious": "A van parked for hours with people watching the houses.",
    "speeding": "Cars regularly doing well over the limit past the primary school.",
    "hate_incident": "Abuse shouted at a neighbour because of where they come from.",
    "fly_tipping": "Black bags and an old mattress dumped behind the shops.",
    "noise": "Loud music from a flat every night until three in the morning.",
    "abandoned_vehicle": "A car with no plates left on the verge for three weeks.",
    "street_lighting": "Three street lights out along the footpath to the station.",
    "highways": "Deep pothole at the junction, cyclists swerving round it.",
    "graffiti": "Graffiti sprayed across the bus shelter and the community centre.",
    "dog_fouling": "Dog mess all along the path to the school gates.",
    "housing_asb": "Tenant next door shouting and banging on the walls at night.",
    "welfare_concern": "Elderly neighbour not seen for days, curtains closed, post piling up.",
}
# How long partners take: median seconds to acknowledge, and from acknowledgement to resolve.
ACKNOWLEDGE_MEDIAN = {
    "police": 20 * 60,
    "opcc": 20 * 3600,
    "council": 6 * 3600,
    "housing_provider": 26 * 3600,
    "health_and_social_care": 3 * 3600,
    "environment_agency": 2 * 86400,
}
RESOLVE_MEDIAN = {
    "police": 30 * 3600,
    "opcc": 3 * 86400,
    "council": 4 * 86400,
    "housing_provider": 9 * 86400,
    "health_and_social_care": 2 * 86400,
    "environment_agency": 12 * 86400,
}
STAFF_OUTCOME = {  # the outcome staff record when they route a report themselves
    "police": "passed_to_force_control_room",
    "opcc": "resolved_by_opcc",
}
# What happens to a report no partner received, by category group: (status, outcome, share).
UNROUTED_ENDINGS = {
    "policing": [
        ("closed", "signposted", 0.30),
        ("closed", "no_further_action", 0.25),
        ("closed", "resolved_by_opcc", 0.10),
        ("closed", "passed_to_resolution_team", 0.05),
        ("duplicate", "duplicate", 0.15),
        ("rejected", "no_further_action", 0.10),
        ("received", "", 0.05),
    ],
    "opcc": [
        ("closed", "resolved_by_opcc", 0.75),
        ("closed", "signposted", 0.15),
        ("duplicate", "duplicate", 0.05),
        ("received", "", 0.05),
    ],
    "non_policing": [
        ("closed", "signposted", 0.50),
        ("duplicate", "duplicate", 0.20),
        ("rejected", "no_further_action", 0.20),
        ("received", "", 0.10),
    ],
}
UNROUTED_KIND = "unrouted"  # copa.routing.service.UNROUTED_KIND
UNROUTED_NAME = "OPCC staff, who will decide where it goes"
ALLEGATIONS = {  # group -> (share, codes)
    "delivery_of_duties_and_services": (0.50, ("police_action_following_contact", "decisions")),
    "individual_behaviour": (0.25, ("impolite_language", "lack_of_fairness")),
    "police_powers_policies_and_procedures": (0.20, ("use_of_force", "stop_and_search")),
    "other": (0.05, ("other",)),
}
RECOVERY_KINDS = ("explanation", "apology", "update", "putting_things_right", "signposting")
COMPLAINT_OUTCOMES = ("service_recovered", "explanation_given", "apology_given", "signposted")
# The force's 101 figures per quarter of 2024/25 and 2025/26, in the seed report's shape:
# non-999 calls, % answered within 2 minutes, average wait (s), 999 calls, % 999 answered in 10 s,
# average handling time (s).
CALL_STATISTICS = {
    (2024, 1): (61_240, 67.9, 142, 31_020, 91.2, 372),
    (2024, 2): (63_810, 66.1, 151, 33_480, 90.4, 369),
    (2024, 3): (57_330, 72.4, 118, 29_910, 92.8, 366),
    (2024, 4): (54_020, 75.0, 104, 27_650, 93.1, 361),
    (2025, 1): (57_640, 79.3, 88, 30_110, 93.9, 355),
    (2025, 2): (59_210, 81.2, 79, 32_470, 94.0, 351),
    (2025, 3): (53_980, 84.6, 64, 28_840, 94.6, 348),
    (2025, 4): (50_870, 85.9, 58, 26_930, 95.0, 344),
}


OUTCOMES = (  # '' first: no outcome recorded (reports/workflow.py REPORT_OUTCOMES)
    "",
    "passed_to_force_control_room",
    "resolved_by_opcc",
    "passed_to_resolution_team",
    "referred_to_partner",
    "signposted",
    "duplicate",
    "no_further_action",
)
CALL_ANSWERS = ("yes", "no", "not_sure", "")  # "Would you otherwise have phoned 101?"


def columns(names: str) -> tuple[str, ...]:
    """A table's columns, in the order its COPY lines give them."""
    return tuple(names.split())


DEVICE_COLUMNS = columns("id platform app_version created_at updated_at")
VOTE_COLUMNS = columns(
    "id device_id option value area_code ward_code local_authority_code fiscal_year "
    "fiscal_quarter cast_at counted replaced_at"
)
TALLY_COLUMNS = columns(
    "id event_name event_date area_code ward_code local_authority_code fiscal_year "
    f"fiscal_quarter {' '.join(OPTIONS)} entered_by created_at"
)
REPORT_COLUMNS = columns(
    "id reference device_id channel category_id description lat lon address_text ward_code "
    "local_authority_code occurred_at happening_now answers anonymous contact_id "
    "share_contact_with_partner would_have_called_101 status possible_emergency "
    "destination_kind destination_name created_at updated_at unrouted outcome repeat_asb "
    "assignee_id duplicate_of_id"
)
REFERRAL_COLUMNS = columns(
    "id report_id partner_id state external_reference delivered_at acknowledged_at "
    "resolved_at sent_at created_at updated_at"
)
FEEDBACK_COLUMNS = columns(
    "id reference device_id kind text incident_date ward_code local_authority_code "
    "officer_identifier possible_emergency created_at updated_at"
)
COMPLAINT_COLUMNS = columns(
    "id feedback_id state logged_at first_contact_at escalated_at escalation_reason closed_at "
    "outcome satisfaction_score satisfaction_at created_at updated_at "
    "logged_fiscal_year logged_fiscal_quarter first_contact_seconds first_action_at"
)
ACTION_COLUMNS = columns("id case_id kind at")
ALLEGATION_COLUMNS = columns("id case_id allegation_group code created_at")
CALL_STATISTICS_COLUMNS = columns(
    "id fiscal_year fiscal_quarter non_emergency_calls answered_within_2_minutes_percent "
    "average_wait_seconds emergency_calls emergency_answered_within_10_seconds_percent "
    "average_handling_seconds entered_by created_at updated_at"
)


@dataclass
class ReportPlan:
    """What every chunk of reports draws from (per category, partner, ward), and what the
    chunks add up: the referrals' COPY text and the reports' rollup groups."""

    codes: np.ndarray
    category_p: np.ndarray
    group_of: np.ndarray
    ward_p: np.ndarray
    partner_ids: np.ndarray
    partner_uuids: list[uuid.UUID]
    partner_kind: np.ndarray
    partner_name: np.ndarray
    kinds: list[str]  # destination kinds: the partners' kinds, then "unrouted"
    kind_of_partner: np.ndarray
    council_of_ward: np.ndarray
    combos: list[list[tuple[str, float, int]]]
    endings: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]  # statuses, outcomes, shares
    ward_text: list[str]
    centres: np.ndarray
    descriptions: np.ndarray
    category_ids: np.ndarray
    groups: Counter[int] = field(default_factory=Counter)
    referral_chunks: list[str] = field(default_factory=list)
    reports: int = 0
    referrals: int = 0


# --- the database -------------------------------------------------------------------------


@contextlib.contextmanager
def metrics_database(admin_dsn: str, host_url: str, keep: bool) -> Iterator[str]:
    """A throwaway database, dropped on exit (also on Ctrl-C and SIGTERM) unless ``keep``."""
    import psycopg

    name = f"copa_bench_metrics_{secrets.token_hex(4)}"
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    log(f"created PostgreSQL database {name}")
    url = f"{host_url}/{name}"
    try:
        yield url
    finally:
        if keep:
            log(f"kept PostgreSQL database {name}: {url}")
        else:
            with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            log(f"dropped PostgreSQL database {name}")


def psycopg_dsn(url: str) -> str:
    """A libpq URL for psycopg from the SQLAlchemy one."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def copa_environment(url: str, workdir: Path, demo_password: str) -> dict[str, str]:
    """Production settings with random secrets, as bench/submit.py serves copa."""
    env = base_environment()
    env.update(
        COPA_ENV="production",
        COPA_DATABASE_URL=url,
        COPA_SECRET_KEY=secrets.token_urlsafe(48),
        COPA_JWT_SECRET_KEY=secrets.token_urlsafe(48),
        COPA_RATELIMIT_ENABLED="false",
        COPA_LOG_LEVEL="WARNING",
        COPA_DEMO_PASSWORD=demo_password,
        COPA_ACCESS_TOKEN_MINUTES="120",
        COPA_PHOTO_STORAGE_DIR=str(workdir / "photos"),
    )
    return env


def flask(env: dict[str, str], *command: str) -> str:
    """``flask --app wsgi <command>`` in the repository, failing loudly."""
    return run_checked(
        [sys.executable, "-m", "flask", "--app", "wsgi", *command], env, " ".join(command)
    )


# --- time ---------------------------------------------------------------------------------


def epoch_of(day: date) -> int:
    """The UTC epoch second a Europe/London day starts (local midnight, BST respected)."""
    return int(datetime.combine(day, clock_time(0), tzinfo=LONDON).timestamp())


class Calendar:
    """The loaded period's Europe/London days, their quarters, and UTC text for epochs."""

    def __init__(self) -> None:
        count = (END_DAY - FIRST_DAY).days
        self.days = [FIRST_DAY + timedelta(days=n) for n in range(count)]
        self.midnight = np.array([epoch_of(d) for d in [*self.days, END_DAY]], dtype=np.int64)
        self.length = np.diff(self.midnight)  # 82,800 / 86,400 / 90,000 seconds
        self.start, self.end = int(self.midnight[0]), int(self.midnight[-1])
        quarters = sorted({Quarter.of(d) for d in self.days})
        self.quarters = quarters
        self.quarter = np.array([quarters.index(Quarter.of(d)) for d in self.days])
        self.quarter_start = np.array([epoch_of(q.first_day()) for q in quarters], dtype=np.int64)
        self.weekday = np.array([d.weekday() for d in self.days])
        self.fiscal_text = [f"{q.fiscal_year}\t{q.quarter}" for q in quarters]
        # A moment inside each local day (its middle): what the rollups are computed from.
        self.noon = [
            datetime.fromtimestamp(int(m + n // 2), UTC)
            for m, n in zip(self.midnight[:-1], self.length, strict=True)
        ]
        # UTC text by hour and by second of the hour: an epoch becomes two list look-ups.
        self.hour_base = (self.start - 400 * 86400) // 3600
        hours = (self.end + 86400) // 3600 - self.hour_base
        self.hour_text = [
            datetime.fromtimestamp((self.hour_base + h) * 3600, UTC).strftime("%Y-%m-%d %H:")
            for h in range(hours)
        ]
        self.second_text = [f"{m:02d}:{s:02d}+00" for m in range(60) for s in range(60)]

    def day_of(self, epochs: np.ndarray) -> np.ndarray:
        """The index of the local day each epoch falls in."""
        return np.searchsorted(self.midnight, epochs, side="right") - 1

    def texts(self, epochs: np.ndarray, missing: np.ndarray | None = None) -> list[str]:
        """Epochs as PostgreSQL timestamptz text (``missing`` rows as NULL)."""
        hours = (epochs // 3600 - self.hour_base).tolist()
        seconds = (epochs % 3600).tolist()
        hour_text, second_text = self.hour_text, self.second_text
        if missing is None:
            return [hour_text[h] + second_text[s] for h, s in zip(hours, seconds, strict=True)]
        return [
            NULL if gone else hour_text[h] + second_text[s]
            for h, s, gone in zip(hours, seconds, missing.tolist(), strict=True)
        ]

    def text(self, epoch: int) -> str:
        return self.hour_text[epoch // 3600 - self.hour_base] + self.second_text[epoch % 3600]

    def moment(self, epoch: int) -> datetime:
        return datetime.fromtimestamp(epoch, UTC)

    def day_weights(
        self, growth: float, weekday: Sequence[float], peaks: Sequence[tuple[date, date, float]]
    ) -> np.ndarray:
        """Probabilities of the days: linear growth over the two years, a weekly rhythm,
        and busier spells."""
        n = len(self.days)
        weights = (1 + growth * np.arange(n) / n) * np.asarray(weekday)[self.weekday]
        for first, last, factor in peaks:
            for index, day in enumerate(self.days):
                if first <= day <= last:
                    weights[index] *= factor
        return weights / weights.sum()

    def chunks(self, per_day: np.ndarray) -> Iterator[np.ndarray]:
        """The day index of each row, ``per_day[d]`` rows for day d, in chunks of about
        CHUNK_ROWS rows (whole days, in order: tables fill in time order, as in service)."""
        day = 0
        while day < len(self.days):
            last, size = day, 0
            while last < len(self.days) and size < CHUNK_ROWS:
                size += int(per_day[last])
                last += 1
            days = np.repeat(np.arange(day, last), per_day[day:last])
            day = last
            if len(days):
                yield days

    def moments(self, rng: np.random.Generator, days: np.ndarray, hours: np.ndarray) -> np.ndarray:
        """Random epochs inside the given local days, by a 24-hour profile of local hours."""
        hour = rng.choice(24, size=len(days), p=hours / hours.sum())
        offset = (hour * 3600 + rng.integers(0, 3600, len(days))) % self.length[days]
        return self.midnight[days] + offset


VOTE_HOURS = np.array([1, 1, 1, 1, 1, 2, 4, 6, 7, 6, 5, 5, 6, 5, 5, 5, 6, 8, 10, 11, 11, 9, 6, 3.0])
REPORT_HOURS = np.array(
    [3, 2, 2, 1, 1, 1, 2, 3, 4, 5, 5, 6, 6, 6, 6, 7, 8, 9, 10, 10, 9, 8, 6, 4.0]
)


# --- the reference data seed-demo loaded --------------------------------------------------


@dataclass
class ReferenceData:
    wards: list[str]
    ward_authority: list[str]
    ward_centre: list[tuple[float, float]]  # lat, lon
    authorities: list[str]
    categories: dict[str, tuple[str, str, str]]  # code -> (id, group, default destination)
    partners: dict[str, tuple[str, str, str]]  # code -> (id, kind, name)
    admin_id: str

    @property
    def council_of(self) -> dict[str, str]:
        from copa.demo import COUNCILS

        return {authority: code for code, authority in COUNCILS.items()}


def read_reference(cur: Any) -> ReferenceData:
    """Wards, authorities, categories, partners and the admin, as seed-demo left them."""
    from shapely.geometry import shape

    wards, authorities, centres = [], [], []
    for code, authority, geometry in cur.execute(
        "SELECT code, local_authority_code, geometry FROM ward ORDER BY code"
    ):
        point = shape(json.loads(geometry)).representative_point()
        wards.append(code)
        authorities.append(authority)
        centres.append((point.y, point.x))
    all_authorities = [r[0] for r in cur.execute("SELECT code FROM local_authority ORDER BY code")]
    categories = {
        code: (str(id_), group, destination)
        for code, id_, group, destination in cur.execute(
            'SELECT code, id, "group", default_destination FROM category'
        )
    }
    partners = {
        code: (str(id_), kind, name)
        for code, id_, kind, name in cur.execute("SELECT code, id, kind, name FROM partner")
    }
    admin = cur.execute("SELECT id FROM user_account WHERE email = %s", (ADMIN,)).fetchone()
    missing = set(CATEGORY_WEIGHTS) - set(categories)
    if not wards or missing or admin is None:
        raise BenchError(f"seed-demo left no wards, categories {missing} or no admin")
    return ReferenceData(
        wards, authorities, centres, all_authorities, categories, partners, str(admin[0])
    )


# --- the rollups, as the product would have kept them --------------------------------------


class Rollups:
    """Rollup rows summed from the product's own ``contributions``; written with COPY."""

    def __init__(self) -> None:
        self.rows: dict[tuple[type, tuple], tuple[tuple, dict[str, int]]] = {}
        self.calls = 0

    def add(self, model: type, values: Mapping[str, Any], times: int = 1) -> None:
        """Count ``times`` records of ``model`` whose attributes the rollups read are ``values``."""
        self.calls += 1
        for item in contributions(model, values.__getitem__):
            entry = self.rows.get((item.rollup, item.key))
            if entry is None:
                entry = self.rows[(item.rollup, item.key)] = (item.extras, {})
            totals = entry[1]
            for name, amount in item.increments:
                totals[name] = totals.get(name, 0) + amount * times

    def copy_into(self, cur: Any) -> dict[str, int]:
        """COPY every rollup table; returns the rows written per table."""
        by_table: dict[type, list[tuple[tuple, tuple, dict[str, int]]]] = {r: [] for r in ROLLUPS}
        for (rollup, key), (extras, totals) in self.rows.items():
            if any(totals.values()):
                by_table[rollup].append((key, extras, totals))
        written = {}
        for rollup, rows in by_table.items():
            written[rollup.__tablename__] = len(rows)
            if not rows:
                continue
            key, extras, totals = rows[0]
            counters = sorted(totals)
            names = [n for n, _ in key] + [n for n, _ in extras] + counters
            attributes = rollup.__mapper__.attrs
            columns = [attributes[n].columns[0].name for n in names]
            copy_text(cur, rollup.__tablename__, columns, _rollup_lines(rows, counters))
        return written


def _rollup_lines(
    rows: list[tuple[tuple, tuple, dict[str, int]]], counters: list[str]
) -> Iterator[str]:
    for start in range(0, len(rows), CHUNK_ROWS):
        yield "".join(
            "\t".join(
                [_text(v) for _, v in key]
                + [_text(v) for _, v in extras]
                + [str(totals[n]) for n in counters]
            )
            + "\n"
            for key, extras, totals in rows[start : start + CHUNK_ROWS]
        )


def _text(value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def copy_text(
    cur: Any, table: str, columns: Sequence[str], chunks: Iterable[str], *, freeze: bool = False
) -> None:
    """COPY text-format chunks (tab-separated lines) into ``table``."""
    options = " WITH (FREEZE)" if freeze else ""
    quoted = ", ".join(f'"{c}"' for c in columns)
    with cur.copy(f"COPY {table} ({quoted}) FROM STDIN{options}") as copy:
        for chunk in chunks:
            copy.write(chunk)


@contextlib.contextmanager
def indexes_built_after(cur: Any, table: str, stats: LoadStats) -> Iterator[None]:
    """Drop ``table``'s plain secondary indexes for the COPY and build them again after it, from
    their own definitions (pg_get_indexdef): one sort per index instead of ten million inserts.
    Primary keys and unique constraints stay (ids arrive in order, so their inserts append)."""
    indexes = cur.execute(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)",
        (table,),
    ).fetchall()
    for name, _ in indexes:
        cur.execute(f'DROP INDEX "{name}"')
    yield
    with stats.timed(f"{table}: {len(indexes)} indexes built (part of its COPY phase)"):
        for _, definition in indexes:
            cur.execute(definition)


def rows_text(*columns: list[str]) -> str:
    """Columns of text values as COPY lines."""
    return "\n".join(map("\t".join, zip(*columns, strict=True))) + "\n"


def ids(table: str, first: int, count: int) -> list[str]:
    prefix = ID_PREFIX[table]
    return [f"{prefix}{n:012x}" for n in range(first, first + count)]


def id_of(table: str, number: int) -> str:
    return f"{ID_PREFIX[table]}{number:012x}"


def softmax(logits: np.ndarray) -> np.ndarray:
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True)


def pick(rng: np.random.Generator, cumulative: np.ndarray) -> np.ndarray:
    """One index per row from per-row cumulative probabilities (rows x choices)."""
    u = rng.random(len(cumulative))
    return np.minimum((u[:, None] > cumulative).sum(axis=1), cumulative.shape[1] - 1)


# --- the loader ---------------------------------------------------------------------------


@dataclass
class LoadStats:
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    rollup_rows: dict[str, int] = field(default_factory=dict)

    @contextlib.contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        """Add the time the block takes to ``phase``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - started


class Loader:
    """Generates two financial years of activity and COPYs it in, one table after another."""

    def __init__(self, cur: Any, ref: ReferenceData, scale: float, seed: int, rollups: bool):
        self.cur = cur
        self.ref = ref
        self.scale = scale
        self.rng = np.random.default_rng(seed)
        self.cal = Calendar()
        self.rollups = Rollups() if rollups else None
        self.stats = LoadStats()
        # Areas a vote can name: the wards, then the authorities.
        self.area_codes = [*ref.wards, *ref.authorities]
        authority_index = {code: n for n, code in enumerate(ref.authorities)}
        self.area_authority = np.array(
            [authority_index[a] for a in ref.ward_authority] + list(range(len(ref.authorities)))
        )
        self.area_text = [
            f"{ward}\t{ward}\t{authority}"
            for ward, authority in zip(ref.wards, ref.ward_authority, strict=True)
        ] + [f"{authority}\t{NULL}\t{authority}" for authority in ref.authorities]
        self.devices = 0
        self.references: Counter[int] = Counter()  # calendar year -> last number given

    # -- helpers

    def _ward_weights(self, sigma: float) -> np.ndarray:
        """Skewed ward weights: each authority's population shared unevenly among its wards."""
        per_authority = Counter(self.ref.ward_authority)
        spread = self.rng.lognormal(0.0, sigma, len(self.ref.wards))
        weights = np.array(
            [
                POPULATION.get(a, 100_000) / per_authority[a] * s
                for a, s in zip(self.ref.ward_authority, spread, strict=True)
            ]
        )
        return weights / weights.sum()

    def _option_cumulative(self) -> np.ndarray:
        """Cumulative option probabilities per (authority, quarter)."""
        direction = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
        base = np.log([0.11, 0.15, 0.27, 0.31, 0.16])
        lean = np.array([CONFIDENCE_LEAN.get(a, 0.0) for a in self.ref.authorities])
        trend = CONFIDENCE_TREND * np.arange(len(self.cal.quarters))
        logits = base + direction * (lean[:, None, None] + trend[None, :, None])
        return np.cumsum(softmax(logits), axis=-1)

    def _reference(self, epochs: np.ndarray) -> list[str]:
        """Human references (COPA-26-004213) in order of the given epochs, from a counter per
        Europe/London calendar year shared by reports and feedback, like next_reference()."""
        years = [self.cal.days[d].year for d in self.cal.day_of(epochs).tolist()]
        out = []
        for year in years:
            self.references[year] += 1
            out.append(f"COPA-{year % 100:02d}-{self.references[year]:06d}")
        return out

    # -- tables

    def load(self) -> LoadStats:
        """Every table, then the rollups; each table is committed when loaded."""
        scale = self.scale
        votes = max(100, round(VOTES_AT_SCALE_1 * scale))
        reports = max(100, round(REPORTS_AT_SCALE_1 * scale))
        self.load_votes(votes)
        self.load_tallies(max(8, round(TALLIES_AT_SCALE_1 * scale)))
        self.load_reports(reports)
        self.load_feedback(max(40, round(reports * FEEDBACK_PER_REPORT)))
        self.load_call_statistics()
        self.load_reference_counters()
        if self.rollups is not None:
            with self.stats.timed("rollups (COPY)"):
                self.stats.rollup_rows = self.rollups.copy_into(self.cur)
                self.cur.connection.commit()
        return self.stats

    def load_votes(self, total: int) -> None:
        """``total`` vote rows: counted app votes plus a few replaced ones, and their devices."""
        rng, cal = self.rng, self.cal
        replaced_total = round(total * REPLACED_SHARE)
        counted_total = total - replaced_total
        per_day = rng.multinomial(
            counted_total,
            cal.day_weights(
                1.2,
                (1.05, 1.0, 1.0, 1.0, 0.95, 0.85, 0.9),
                # A push notification at the start of each quarter of the current year.
                [(q.first_day(), q.first_day() + timedelta(days=6), 2.0) for q in cal.quarters[4:]],
            ),
        )
        per_quarter = np.bincount(cal.quarter, weights=per_day, minlength=len(cal.quarters))
        # One counted vote per device per quarter keeps the partial unique index satisfied.
        self.devices = devices = int(per_quarter.max())
        self.load_devices(devices)
        device_offset = rng.integers(0, devices, len(cal.quarters))
        replaced_rows = np.sort(rng.choice(counted_total, replaced_total, replace=False))
        ward_weights = self._ward_weights(0.6)
        authority_weights = np.array(
            [POPULATION.get(a, 100_000) for a in self.ref.authorities], dtype=float
        )
        area_p = np.concatenate(
            [
                ward_weights * (1 - AUTHORITY_VOTE_SHARE),
                authority_weights / authority_weights.sum() * AUTHORITY_VOTE_SHARE,
            ]
        )
        cumulative = self._option_cumulative()
        option_text = np.array([f"{o}\t{n + 1}" for n, o in enumerate(OPTIONS)], dtype=object)
        area_text = np.array(self.area_text, dtype=object)
        fiscal_text = np.array(cal.fiscal_text, dtype=object)
        groups: Counter[int] = Counter()
        areas = len(self.area_codes)
        state = {"vote": 0, "counted": 0, "in_quarter": np.zeros(len(cal.quarters), dtype=np.int64)}

        def chunks() -> Iterator[str]:
            for days in cal.chunks(per_day):
                m = len(days)
                epochs = np.sort(cal.moments(rng, days, VOTE_HOURS))
                days = cal.day_of(epochs)
                quarter = cal.quarter[days]
                area = rng.choice(areas, size=m, p=area_p)
                option = pick(rng, cumulative[self.area_authority[area], quarter])
                # The device: the n-th counted vote of a quarter is the n-th device (shifted).
                first = state["counted"]
                chosen = (
                    replaced_rows[
                        np.searchsorted(replaced_rows, first) : np.searchsorted(
                            replaced_rows, first + m
                        )
                    ]
                    - first
                )
                has_device = rng.random(m) >= NO_DEVICE_SHARE
                has_device[chosen] = True
                in_quarter = np.empty(m, dtype=np.int64)
                for q in np.unique(quarter):
                    mask = quarter == q
                    in_quarter[mask] = state["in_quarter"][q] + np.arange(mask.sum())
                    state["in_quarter"][q] += mask.sum()
                device = (in_quarter + device_offset[quarter]) % devices
                state["counted"] += m
                # The replaced votes: the same device, area and quarter, cast earlier.
                r = len(chosen)
                r_cast = epochs[chosen]
                r_epochs = cal.quarter_start[quarter[chosen]] + (
                    rng.random(r) * (r_cast - cal.quarter_start[quarter[chosen]])
                ).astype(np.int64)
                r_days = cal.day_of(r_epochs)
                r_option = rng.integers(0, len(OPTIONS), r)
                all_days = np.concatenate([days, r_days])
                all_area = np.concatenate([area, area[chosen]])
                all_option = np.concatenate([option, r_option])
                counted = np.concatenate([np.ones(m, dtype=np.int64), np.zeros(r, dtype=np.int64)])
                if self.rollups is not None:
                    keys = ((all_days * areas + all_area) * len(OPTIONS) + all_option) * 2 + counted
                    found, counts = np.unique(keys, return_counts=True)
                    groups.update(dict(zip(found.tolist(), counts.tolist(), strict=True)))
                device_text = [
                    id_of("device", d) if has else NULL
                    for d, has in zip(device.tolist(), has_device.tolist(), strict=True)
                ] + [id_of("device", d) for d in device[chosen].tolist()]
                yield rows_text(
                    ids("vote", state["vote"], m + r),
                    device_text,
                    option_text[all_option].tolist(),
                    area_text[all_area].tolist(),
                    fiscal_text[cal.quarter[all_days]].tolist(),
                    cal.texts(np.concatenate([epochs, r_epochs])),
                    ["t"] * m + ["f"] * r,
                    [NULL] * m + cal.texts(r_cast),
                )
                state["vote"] += m + r

        with self.stats.timed("votes: generate + COPY"):
            # TRUNCATE then COPY FREEZE in one transaction: the rows arrive frozen and visible
            # to all, so VACUUM has nothing to do on the largest table.
            self.cur.execute("TRUNCATE vote")
            with indexes_built_after(self.cur, "vote", self.stats):
                copy_text(self.cur, "vote", VOTE_COLUMNS, chunks(), freeze=True)
            self.cur.connection.commit()
        self.stats.rows["vote"] = state["vote"]
        if self.rollups is not None:
            with self.stats.timed("votes: rollups"):
                for key, count in groups.items():
                    key, counted = divmod(key, 2)
                    key, option = divmod(key, len(OPTIONS))
                    day, area = divmod(key, areas)
                    authority = self.ref.authorities[self.area_authority[area]]
                    code = self.area_codes[area]
                    self.rollups.add(
                        Vote,
                        {
                            "cast_at": cal.noon[day],
                            "area_code": code,
                            "ward_code": code if area < len(self.ref.wards) else None,
                            "local_authority_code": authority,
                            "option": OPTIONS[option],
                            "counted": bool(counted),
                        },
                        count,
                    )

    def load_devices(self, count: int) -> None:
        """The residents' devices the votes and reports name."""
        rng, cal = self.rng, self.cal
        platforms = np.array(["android", "ios"], dtype=object)
        versions = np.array(["2.4.0", "2.5.1", "2.6.0", "2.7.2"], dtype=object)

        def chunks() -> Iterator[str]:
            for first in range(0, count, CHUNK_ROWS):
                m = min(CHUNK_ROWS, count - first)
                created = cal.texts(cal.start - rng.integers(0, 365 * 86400, m))
                yield rows_text(
                    ids("device", first, m),
                    platforms[(rng.random(m) < 0.4).astype(np.int64)].tolist(),
                    versions[rng.integers(0, len(versions), m)].tolist(),
                    created,
                    created,
                )

        with self.stats.timed("devices: generate + COPY"):
            copy_text(self.cur, "device", DEVICE_COLUMNS, chunks())
            self.cur.connection.commit()
        self.stats.rows["device"] = count

    def load_tallies(self, count: int) -> None:
        """Event counter sessions: mostly at weekends, a ward or an authority, ~55 answers."""
        rng, cal, ref = self.rng, self.cal, self.ref
        weights = cal.day_weights(0.5, (0.3, 0.3, 0.4, 0.4, 0.6, 2.5, 2.0), [])
        days = np.sort(rng.choice(len(cal.days), size=count, p=weights))
        areas = rng.integers(0, len(self.area_codes), count)
        cumulative = self._option_cumulative()
        lines = []
        events = ("Community safety day", "Ward surgery", "Summer fair", "PACT meeting", "Fun run")
        for n, (day, area) in enumerate(zip(days.tolist(), areas.tolist(), strict=True)):
            event_date = cal.days[day]
            authority = ref.authorities[self.area_authority[area]]
            ward = self.area_codes[area] if area < len(ref.wards) else None
            probabilities = np.diff(
                cumulative[self.area_authority[area], cal.quarter[day]], prepend=0
            )
            counts = rng.multinomial(max(5, int(rng.lognormal(3.9, 0.5))), probabilities)
            quarter = cal.quarters[cal.quarter[day]]
            lines.append(
                "\t".join(
                    [
                        id_of("tally", n),
                        f"{events[n % len(events)]} {n}",
                        event_date.isoformat(),
                        self.area_codes[area],
                        ward or NULL,
                        authority,
                        str(quarter.fiscal_year),
                        str(quarter.quarter),
                        *map(str, counts.tolist()),
                        ref.admin_id,
                        cal.text(int(cal.midnight[day + 1]) + 3600 * 10),
                    ]
                )
            )
            if self.rollups is not None:
                self.rollups.add(
                    Tally,
                    {
                        "event_date": event_date,
                        "area_code": self.area_codes[area],
                        "ward_code": ward,
                        "local_authority_code": authority,
                        **dict(zip(OPTIONS, counts.tolist(), strict=True)),
                    },
                )
        with self.stats.timed("tallies: generate + COPY"):
            copy_text(self.cur, "confidence_tally", TALLY_COLUMNS, ["\n".join(lines) + "\n"])
            self.cur.connection.commit()
        self.stats.rows["confidence_tally"] = count

    def report_plan(self) -> ReportPlan:
        """The tables every chunk of reports draws from."""
        ref = self.ref
        codes = list(CATEGORY_WEIGHTS)
        category_p = np.array([CATEGORY_WEIGHTS[c] for c in codes], dtype=float)
        partner_codes = list(ref.partners)
        partner_index = {code: n for n, code in enumerate(partner_codes)}
        partner_kind = [ref.partners[c][1] for c in partner_codes]
        kinds = [*sorted(set(partner_kind)), UNROUTED_KIND]
        council = ref.council_of
        # Per category: the answers to its extra question, and the partner each routes to
        # (-1: the council of the report's area).
        fixed = {
            "force_control_room": "force-control-room",
            "opcc": "opcc",
            "health_and_social_care": "tees-health-social-care",
        }
        combos = []
        for code in codes:
            destination = ref.categories[code][2]
            default = partner_index[fixed[destination]] if destination in fixed else -1
            combos.append(
                [
                    (text, share, partner_index[target] if target else default)
                    for text, share, target in ANSWERS.get(code, [("{}", 1.0, None)])
                ]
            )
        return ReportPlan(
            codes=np.array(codes, dtype=object),
            category_p=category_p / category_p.sum(),
            group_of=np.array([ref.categories[c][1] for c in codes], dtype=object),
            ward_p=self._ward_weights(0.9),
            partner_ids=np.array([ref.partners[c][0] for c in partner_codes], dtype=object),
            partner_uuids=[uuid.UUID(ref.partners[c][0]) for c in partner_codes],
            partner_kind=np.array(partner_kind, dtype=object),
            partner_name=np.array([ref.partners[c][2] for c in partner_codes], dtype=object),
            kinds=kinds,
            kind_of_partner=np.array([kinds.index(k) for k in partner_kind]),
            council_of_ward=np.array([partner_index[council[a]] for a in ref.ward_authority]),
            combos=combos,
            endings={
                group: (
                    np.array([status for status, _, _ in table], dtype=object),
                    np.array([OUTCOMES.index(outcome) for _, outcome, _ in table]),
                    np.array([share for *_, share in table]) / sum(t[2] for t in table),
                )
                for group, table in UNROUTED_ENDINGS.items()
            },
            ward_text=[f"{w}\t{a}" for w, a in zip(ref.wards, ref.ward_authority, strict=True)],
            centres=np.array(ref.ward_centre),
            descriptions=np.array([DESCRIPTIONS[c] for c in codes], dtype=object),
            category_ids=np.array([ref.categories[c][0] for c in codes], dtype=object),
        )

    def load_reports(self, total: int) -> None:
        """Reports over the categories (COPA's FOI mix), wards, channels and 101 answers; about
        half sent to a partner (a referral, acknowledged and resolved in time), the rest handled
        by staff or waiting."""
        rng, cal, ref = self.rng, self.cal, self.ref
        peaks = []
        for year in (2024, 2025):
            peaks.append((date(year, 6, 1), date(year, 8, 31), 1.2))  # summer ASB
            peaks.append((date(year, 10, 25), date(year, 11, 6), 1.5))  # Halloween, bonfire night
        per_day = rng.multinomial(
            total, cal.day_weights(0.6, (1.1, 1.05, 1.0, 1.0, 1.05, 0.9, 0.85), peaks)
        )
        plan = self.report_plan()
        chunks = (self._report_chunk(plan, days) for days in cal.chunks(per_day))
        with self.stats.timed("reports + referrals: generate + COPY"):
            with indexes_built_after(self.cur, "report", self.stats):
                copy_text(self.cur, "report", REPORT_COLUMNS, chunks)
            copy_text(self.cur, "referral", REFERRAL_COLUMNS, plan.referral_chunks)
            self.cur.connection.commit()
        plan.referral_chunks.clear()
        self.stats.rows["report"] = plan.reports
        self.stats.rows["referral"] = plan.referrals
        if self.rollups is None:
            return
        with self.stats.timed("reports: rollups"):
            category_uuids = [uuid.UUID(i) for i in plan.category_ids.tolist()]
            wards = len(ref.wards)
            for key, count in plan.groups.items():
                key, call = divmod(key, len(CALL_ANSWERS))
                key, outcome = divmod(key, len(OUTCOMES))
                key, kind = divmod(key, len(plan.kinds))
                key, channel = divmod(key, 2)
                key, category = divmod(key, len(plan.codes))
                day, ward = divmod(key, wards + 1)
                self.rollups.add(
                    Report,
                    {
                        "created_at": cal.noon[day],
                        "local_authority_code": ref.ward_authority[ward - 1] if ward else None,
                        "ward_code": ref.wards[ward - 1] if ward else None,
                        "category_id": category_uuids[category],
                        "channel": ("app", "open311")[channel],
                        "destination_kind": plan.kinds[kind],
                        "outcome": OUTCOMES[outcome] or None,
                        "would_have_called_101": CALL_ANSWERS[call] or None,
                    },
                    count,
                )

    def _report_chunk(self, plan: ReportPlan, days: np.ndarray) -> str:
        """One chunk of reports as COPY text; their referrals are kept in ``plan`` for a COPY
        after the reports, and their rollup groups counted there."""
        rng, cal = self.rng, self.cal
        m = len(days)
        created = np.sort(cal.moments(rng, days, REPORT_HOURS))
        days = cal.day_of(created)
        category = rng.choice(len(plan.codes), size=m, p=plan.category_p)
        group = plan.group_of[category]
        code = plan.codes[category]
        question = code == "question"
        located = ~question | (rng.random(m) < 0.3)
        ward = np.where(located, rng.choice(len(plan.ward_p), size=m, p=plan.ward_p), -1)
        non_policing = group == "non_policing"
        channel = (non_policing & (rng.random(m) < 0.15)).astype(np.int64)  # 1: open311
        answer_text = np.empty(m, dtype=object)
        partner = np.empty(m, dtype=np.int64)
        for index, combos in enumerate(plan.combos):
            mask = category == index
            if not mask.any():
                continue
            shares = np.array([share for _, share, _ in combos])
            chosen = rng.choice(len(combos), size=int(mask.sum()), p=shares / shares.sum())
            answer_text[mask] = np.array([text for text, _, _ in combos], dtype=object)[chosen]
            partner[mask] = np.array([target for _, _, target in combos])[chosen]
        council = partner < 0  # the council of the report's area
        partner[council] = plan.council_of_ward[ward[council]]
        routed_share = np.array([ROUTED_SHARE[g] for g in plan.group_of])[category]
        routed = rng.random(m) < routed_share
        kind = plan.partner_kind[partner]
        staff_routed = routed & (rng.random(m) < 0.4)
        delay = np.where(
            staff_routed,
            rng.lognormal(np.log(3 * 3600), 1.0, m).astype(np.int64),
            rng.integers(1, 6, m),
        )
        sent = created + delay
        routed &= sent < cal.end
        ack_median = np.array([ACKNOWLEDGE_MEDIAN[k] for k in kind])
        resolve_median = np.array([RESOLVE_MEDIAN[k] for k in kind])
        acknowledged = sent + rng.lognormal(np.log(ack_median), 1.0).astype(np.int64)
        has_ack = routed & (rng.random(m) < 0.9) & (acknowledged < cal.end)
        resolved = acknowledged + rng.lognormal(np.log(resolve_median), 1.0).astype(np.int64)
        has_resolved = has_ack & (rng.random(m) < 0.7) & (resolved < cal.end)
        in_progress = has_ack & ~has_resolved & (rng.random(m) < 0.4)
        referral_state = np.select(
            [has_resolved, in_progress, has_ack],
            ["resolved", "in_progress", "acknowledged"],
            "delivered",
        ).astype(object)
        closed_after = has_resolved & (rng.random(m) < 0.4)
        status = np.select(
            [closed_after, has_resolved, in_progress, has_ack, routed],
            ["closed", "resolved", "in_progress", "acknowledged", "routed"],
            "received",
        ).astype(object)
        outcome = np.zeros(m, dtype=np.int64)
        staff = staff_routed & routed
        outcome[staff] = [
            OUTCOMES.index(STAFF_OUTCOME.get(k, "referred_to_partner")) for k in kind[staff]
        ]
        # Reports no partner received: staff decided, or they are still waiting.
        recent = created >= cal.end - 10 * 86400
        updated = np.maximum.reduce(
            [
                created,
                np.where(routed, sent, 0),
                np.where(has_ack, acknowledged, 0),
                np.where(has_resolved, resolved, 0),
            ]
        )
        for name, (statuses, ends, shares) in plan.endings.items():
            mask = ~routed & (group == name)
            if mask.any():
                chosen = rng.choice(len(shares), size=int(mask.sum()), p=shares)
                status[mask] = statuses[chosen]
                outcome[mask] = ends[chosen]
        waiting = ~routed & recent & (rng.random(m) < 0.8)
        status[waiting] = "received"
        outcome[waiting] = 0
        decided = ~routed & (status != "received")
        updated[decided] = np.minimum(
            created[decided]
            + rng.lognormal(np.log(86400), 1.0, int(decided.sum())).astype(np.int64),
            cal.end - 1,
        )
        kind_index = np.where(routed, plan.kind_of_partner[partner], len(plan.kinds) - 1)
        call = rng.choice(4, size=m, p=[0.45, 0.25, 0.18, 0.12])
        first = plan.reports
        report_ids = ids("report", first, m)
        if self.rollups is not None:
            dims = (len(plan.codes), 2, len(plan.kinds), len(OUTCOMES), len(CALL_ANSWERS))
            keys = days * (len(plan.ward_p) + 1) + (ward + 1)
            for index, size in zip(
                (category, channel, kind_index, outcome, call), dims, strict=True
            ):
                keys = keys * size + index
            found, counts = np.unique(keys, return_counts=True)
            plan.groups.update(dict(zip(found.tolist(), counts.tolist(), strict=True)))
        # The referrals, for the routed reports.
        where = np.flatnonzero(routed)
        r = len(where)
        referral_first = plan.referrals
        external = [
            f"EXT-{referral_first + n:07d}" if kind[i] == "council" else NULL
            for n, i in enumerate(where.tolist())
        ]
        delivered = np.minimum(sent[where] + rng.integers(2, 30, r), cal.end - 1)
        plan.referral_chunks.append(
            rows_text(
                ids("referral", referral_first, r),
                [report_ids[i] for i in where.tolist()],
                plan.partner_ids[partner[where]].tolist(),
                referral_state[where].tolist(),
                external,
                cal.texts(delivered),
                cal.texts(acknowledged[where], ~has_ack[where]),
                cal.texts(resolved[where], ~has_resolved[where]),
                cal.texts(sent[where]),
                cal.texts(sent[where]),
                cal.texts(updated[where]),
            )
        )
        if self.rollups is not None:
            moment = cal.moment
            for i in where.tolist():
                self.rollups.add(
                    Referral,
                    {
                        "sent_at": moment(int(sent[i])),
                        "partner_id": plan.partner_uuids[partner[i]],
                        "acknowledged_at": moment(int(acknowledged[i])) if has_ack[i] else None,
                        "resolved_at": moment(int(resolved[i])) if has_resolved[i] else None,
                    },
                )
        plan.referrals += r
        plan.reports += m
        # The report rows.
        lat = np.where(located, plan.centres[ward, 0] + rng.uniform(-0.004, 0.004, m), np.nan)
        lon = np.where(located, plan.centres[ward, 1] + rng.uniform(-0.006, 0.006, m), np.nan)
        happening_now = rng.random(m) < 0.03
        occurred = created - rng.integers(0, 6 * 3600, m)
        device = rng.integers(0, max(1, self.devices), m)
        has_device = (channel == 0) & (rng.random(m) < 0.85)
        repeat_asb = np.isin(code, ("asb", "vehicle_asb", "housing_asb"))
        repeat_asb &= rng.random(m) < 0.05
        duplicate_of = [
            id_of("report", first + n - 1) if s == "duplicate" and first + n else NULL
            for n, s in enumerate(status.tolist())
        ]
        destination_kind = np.where(routed, kind, UNROUTED_KIND)
        destination_name = np.where(routed, plan.partner_name[partner], UNROUTED_NAME)
        ward_text = [plan.ward_text[w] if w >= 0 else f"{NULL}\t{NULL}" for w in ward.tolist()]
        flags = {True: "t", False: "f"}
        created_text = cal.texts(created)
        return rows_text(
            report_ids,
            self._reference(created),
            [
                id_of("device", d) if has else NULL
                for d, has in zip(device.tolist(), has_device.tolist(), strict=True)
            ],
            [("app", "open311")[x] for x in channel.tolist()],
            plan.category_ids[category].tolist(),
            plan.descriptions[category].tolist(),
            [NULL if x != x else f"{x:.5f}" for x in lat.tolist()],
            [NULL if x != x else f"{x:.5f}" for x in lon.tolist()],
            [NULL] * m,
            ward_text,
            cal.texts(occurred, rng.random(m) < 0.5),
            [flags[x] for x in happening_now.tolist()],
            answer_text.tolist(),
            [flags[x] for x in (rng.random(m) < 0.3).tolist()],
            [NULL] * m,
            ["f"] * m,
            [CALL_ANSWERS[x] or NULL for x in call.tolist()],
            status.tolist(),
            [flags[x] for x in (happening_now | (rng.random(m) < 0.01)).tolist()],
            destination_kind.tolist(),
            destination_name.tolist(),
            created_text,
            cal.texts(updated),
            [flags[not x] for x in routed.tolist()],
            [OUTCOMES[x] or NULL for x in outcome.tolist()],
            [flags[x] for x in repeat_asb.tolist()],
            [NULL] * m,
            duplicate_of,
        )

    def load_feedback(self, total: int) -> None:
        """Compliments, suggestions and expressions of dissatisfaction; each of the last is a
        complaint case with one to three allegations, contacted, recovered or escalated, closed,
        and sometimes rated."""
        rng, cal, ref = self.rng, self.cal, self.ref
        weights = cal.day_weights(0.6, (1.1, 1.05, 1.0, 1.0, 1.05, 0.9, 0.85), [])
        days = rng.choice(len(cal.days), size=total, p=weights)
        created = np.sort(cal.moments(rng, days, REPORT_HOURS))
        references = self._reference(created)
        kinds = rng.choice(
            ["compliment", "suggestion", "dissatisfaction"], size=total, p=[0.4, 0.2, 0.4]
        )
        texts = {
            "compliment": "The officer who came round was patient and kind with my mum.",
            "suggestion": "More patrols near the park in the evenings would help.",
            "dissatisfaction": "Nobody called me back after I reported the break-in.",
        }
        ward_p = self._ward_weights(0.7)
        feedback, cases, allegations, actions = [], [], [], []
        end = cal.end
        group_names = list(ALLEGATIONS)
        group_p = np.array([ALLEGATIONS[g][0] for g in group_names])
        rated = np.array([0.01, 0.01, 0.02, 0.26, 0.70])

        def at(epoch: float | None) -> str:
            return NULL if epoch is None else cal.text(int(epoch))

        def moment(epoch: float | None) -> datetime | None:  # as the database hands it back
            return None if epoch is None else cal.moment(int(epoch))

        def before_end(epoch: float) -> float | None:
            return epoch if epoch < end else None

        for n in range(total):
            logged, kind = int(created[n]), str(kinds[n])
            ward = int(rng.choice(len(ref.wards), p=ward_p)) if rng.random() < 0.7 else -1
            ward_code = ref.wards[ward] if ward >= 0 else None
            authority = ref.ward_authority[ward] if ward >= 0 else None
            device = id_of("device", int(rng.integers(0, max(1, self.devices))))
            incident = (
                cal.days[cal.day_of(np.array([logged]))[0]]
                - timedelta(days=int(rng.integers(0, 10)))
                if rng.random() < 0.5
                else None
            )
            feedback_id = id_of("feedback", n)
            feedback.append(
                "\t".join(
                    [
                        feedback_id,
                        references[n],
                        device if rng.random() < 0.8 else NULL,
                        kind,
                        texts[kind],
                        incident.isoformat() if incident else NULL,
                        ward_code or NULL,
                        authority or NULL,
                        f"PC {rng.integers(1000, 9999)}" if rng.random() < 0.25 else NULL,
                        "f",
                        at(logged),
                        at(logged),
                    ]
                )
            )
            if self.rollups is not None:
                self.rollups.add(
                    Feedback,
                    {
                        "created_at": cal.moment(logged),
                        "local_authority_code": authority,
                        "ward_code": ward_code,
                        "kind": kind,
                    },
                )
            if kind != "dissatisfaction":
                continue
            case_id = id_of("complaint", len(cases))
            contact = before_end(logged + rng.lognormal(np.log(20 * 3600), 0.8))
            if rng.random() < 0.03:
                contact = None
            escalated = None
            if rng.random() < 0.06:
                escalated = before_end((contact or logged) + rng.lognormal(np.log(2 * 86400), 0.5))
            closed = outcome = satisfied_at = score = None
            recovered = None
            if escalated is not None:
                closed = before_end(escalated + rng.uniform(30, 90) * 86400)
                state = "closed" if closed else "escalated"
                outcome = "referred_to_professional_standards" if closed else None
            elif contact is not None:
                if rng.random() < 0.65:
                    recovered = before_end(contact + rng.uniform(3600, 3 * 86400))
                closed = before_end(contact + rng.lognormal(np.log(7 * 86400), 0.6))
                if closed is not None:
                    state = "closed"
                    outcome = COMPLAINT_OUTCOMES[int(rng.integers(0, len(COMPLAINT_OUTCOMES)))]
                    if rng.random() < 0.4:
                        satisfied_at = before_end(closed + rng.uniform(1, 7) * 86400)
                        score = int(rng.choice(5, p=rated)) + 1 if satisfied_at else None
                else:
                    state = "service_recovery" if recovered else "contacted"
            else:
                state = "logged"
            updated = max(x for x in (logged, contact, escalated, closed, satisfied_at) if x)
            # What the model derives on every write (feedback.models._derive_measures).
            quarter = Quarter.of(datetime.fromtimestamp(int(logged), UTC))
            seconds = NULL if contact is None else str(int(contact) - int(logged))
            cases.append(
                "\t".join(
                    [
                        case_id,
                        feedback_id,
                        state,
                        at(logged),
                        at(contact),
                        at(escalated),
                        "Alleged misconduct: a Schedule 3 matter." if escalated else NULL,
                        at(closed),
                        outcome or NULL,
                        str(score) if score else NULL,
                        at(satisfied_at),
                        at(logged),
                        at(updated),
                        str(quarter.fiscal_year),
                        str(quarter.quarter),
                        seconds,
                        at(recovered),
                    ]
                )
            )
            if self.rollups is not None:
                self.rollups.add(
                    ComplaintCase,
                    {
                        "logged_at": moment(logged),
                        "escalated_at": moment(escalated),
                        "first_action_at": moment(recovered),
                        "first_contact_at": moment(contact),
                        "satisfaction_at": moment(satisfied_at),
                        "satisfaction_score": score,
                    },
                )
            if recovered is not None:
                actions.append(
                    "\t".join(
                        [
                            id_of("action", len(actions)),
                            case_id,
                            RECOVERY_KINDS[int(rng.integers(0, len(RECOVERY_KINDS)))],
                            at(recovered),
                        ]
                    )
                )
            for _ in range(int(rng.choice(3, p=[0.6, 0.3, 0.1])) + 1):
                group = group_names[int(rng.choice(len(group_names), p=group_p))]
                codes = ALLEGATIONS[group][1]
                recorded = int(min(logged + rng.uniform(0, 2 * 86400), end - 1))
                allegations.append(
                    "\t".join(
                        [
                            id_of("allegation", len(allegations)),
                            case_id,
                            group,
                            codes[int(rng.integers(0, len(codes)))],
                            at(recorded),
                        ]
                    )
                )
                if self.rollups is not None:
                    self.rollups.add(
                        Allegation, {"created_at": cal.moment(recorded), "group": group}
                    )

        def text(lines: list[str]) -> list[str]:
            return ["\n".join(lines) + "\n"] if lines else []

        with self.stats.timed("feedback + complaints: generate + COPY"):
            for table, names, lines in (
                ("feedback", FEEDBACK_COLUMNS, feedback),
                ("complaint_case", COMPLAINT_COLUMNS, cases),
                ("service_recovery_action", ACTION_COLUMNS, actions),
                ("allegation", ALLEGATION_COLUMNS, allegations),
            ):
                copy_text(self.cur, table, names, text(lines))
            self.cur.connection.commit()
        self.stats.rows.update(
            feedback=len(feedback),
            complaint_case=len(cases),
            allegation=len(allegations),
            service_recovery_action=len(actions),
        )

    def load_call_statistics(self) -> None:
        """The 101 figures of the eight quarters, as staff would have imported them."""
        now = self.cal.text(self.cal.end - 86400)
        lines = [
            "\t".join(
                [
                    id_of("call_statistics", n),
                    str(year),
                    str(quarter),
                    *map(str, figures),
                    self.ref.admin_id,
                    now,
                    now,
                ]
            )
            for n, ((year, quarter), figures) in enumerate(CALL_STATISTICS.items())
        ]
        copy_text(self.cur, "call_statistics", CALL_STATISTICS_COLUMNS, ["\n".join(lines) + "\n"])
        self.cur.connection.commit()
        self.stats.rows["call_statistics"] = len(lines)

    def load_reference_counters(self) -> None:
        """The references given out, so that a submission made afterwards takes the next one."""
        for year, last in self.references.items():
            self.cur.execute(
                "INSERT INTO reference_counter (year, last) VALUES (%s, %s) "
                "ON CONFLICT (year) DO UPDATE SET last = GREATEST(reference_counter.last, EXCLUDED.last)",
                (year, last),
            )
        self.cur.connection.commit()


# --- preparing the database ---------------------------------------------------------------


def prepare(url: str, env: dict[str, str], args: argparse.Namespace) -> LoadStats:
    """Migrate, seed, load the raw rows with COPY, write the rollups, VACUUM ANALYZE."""
    import psycopg

    started = time.perf_counter()
    log("migrating and loading the demo data")
    flask(env, "db", "upgrade")
    flask(env, "copa", "seed-demo")
    with psycopg.connect(psycopg_dsn(url)) as conn:
        # The rows are consistent by construction (every id they name exists): the foreign-key
        # triggers, one lookup per row and key, would only slow the COPY down.
        conn.execute("SET session_replication_role = replica")
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '512MB'")  # index builds sort in memory
        with conn.cursor() as cur:
            ref = read_reference(cur)
            conn.commit()
            loader = Loader(cur, ref, args.scale, args.seed, args.rollups == "generate")
            stats = loader.load()
    if args.rollups == "repair":
        with stats.timed("rollups: reconcile.repair()"):
            stats.rollup_rows = repair_rollups(url)
    with psycopg.connect(psycopg_dsn(url), autocommit=True) as conn, stats.timed("VACUUM ANALYZE"):
        conn.execute("VACUUM ANALYZE")
    stats.seconds["total"] = time.perf_counter() - started
    return stats


def repair_rollups(url: str) -> dict[str, int]:
    """The product's own rewrite of every rollup from the raw rows, in this process."""
    from copa import create_app
    from copa.db import db
    from copa.metrics.reconcile import repair

    app = create_app(
        {
            "ENV": "development",
            "DATABASE_URL": url,
            "SECRET_KEY": secrets.token_urlsafe(48),
            "JWT_SECRET_KEY": secrets.token_urlsafe(48),
            "LOG_LEVEL": "WARNING",
        }
    )
    with app.app_context():
        try:
            return repair()
        finally:
            db.session.remove()
            db.engine.dispose()


def reconcile_check(env: dict[str, str]) -> str:
    """``flask copa reconcile`` against the loaded database; it must find no mismatch."""
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "copa", "reconcile"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    lines = (done.stdout + done.stderr).strip().splitlines()
    if done.returncode != 0:
        raise BenchError(
            f"copa reconcile exited {done.returncode}:\n"
            + "\n".join(lines[:20] + ["..."] + lines[-10:])
        )
    return "\n".join(lines[-8:])


# --- the raw-SQL baselines ----------------------------------------------------------------

LOCAL = "AT TIME ZONE 'Europe/London'"


def raw_confidence(conn: Any, quarter: Quarter = REPORT_QUARTER) -> dict[str, Any]:
    """The confidence endpoint's figures for one quarter, from the raw votes and tallies."""
    start, end = quarter.bounds()
    counts = {"app": dict.fromkeys(OPTIONS, 0), "event": dict.fromkeys(OPTIONS, 0)}
    for option, count in conn.execute(
        "SELECT option, count(*) FROM vote WHERE counted AND cast_at >= %s AND cast_at < %s "
        "GROUP BY option",
        (start, end),
    ):
        counts["app"][option] = count
    sums = ", ".join(f"coalesce(sum({o}), 0)" for o in OPTIONS)
    row = conn.execute(
        f"SELECT {sums} FROM confidence_tally WHERE event_date >= %s AND event_date < %s",
        (quarter.first_day(), quarter.next().first_day()),
    ).fetchone()
    counts["event"] = dict(zip(OPTIONS, map(int, row), strict=True))
    return {"counts": counts, **confidence_measures(counts)}


def confidence_measures(counts: Mapping[str, Mapping[str, int]]) -> dict[str, Any]:
    """n, % confident and net confidence of app votes and event counters together."""
    total = {o: sum(channel[o] for channel in counts.values()) for o in OPTIONS}
    n = sum(total.values())
    confident = total["quite_confident"] + total["very_confident"]
    not_confident = total["not_at_all_confident"] + total["not_very_confident"]
    return {
        "n": n,
        "total": total,
        "percent_confident": round(confident / n * 100, 1) if n else None,
        "net_confidence": round((confident - not_confident) / n * 100, 1) if n else None,
    }


def raw_pcc_report(conn: Any, quarter: Quarter = REPORT_QUARTER) -> dict[str, Any]:
    """The PCC report's figures from the raw rows: eight quarters (the baseline year and the
    current one) of confidence, submissions by kind and category, 101 answers, feedback,
    allegations and complaint cases; the report quarter's top categories, outcomes by
    authority and partner performance; the call statistics."""
    # The baseline year's first day to the end of the report's quarter (later ones are not
    # reported yet).
    start = Quarter(BASELINE_YEAR, 1).bounds()[0]
    q_start, q_end = quarter.bounds()
    span = {"start": start, "end": q_end, "first": Quarter(BASELINE_YEAR, 1).first_day()}
    span["after"] = quarter.next().first_day()

    def rows(sql: str, params: Mapping[str, Any] = span) -> list[tuple]:
        return conn.execute(sql, params).fetchall()

    sums = ", ".join(f"sum({o})" for o in OPTIONS)
    report = {
        "confidence_votes": rows(
            f"SELECT date_trunc('quarter', cast_at {LOCAL})::date, option, count(*) FROM vote "
            "WHERE counted AND cast_at >= %(start)s AND cast_at < %(end)s GROUP BY 1, 2"
        ),
        "confidence_events": rows(
            f"SELECT date_trunc('quarter', event_date)::date, {sums} FROM confidence_tally "
            "WHERE event_date >= %(first)s AND event_date < %(after)s GROUP BY 1"
        ),
        "reports": rows(
            f"SELECT date_trunc('quarter', r.created_at {LOCAL})::date, c.code, r.channel, "
            "r.destination_kind, coalesce(r.would_have_called_101, ''), count(*) "
            "FROM report r JOIN category c ON c.id = r.category_id "
            "WHERE r.created_at >= %(start)s AND r.created_at < %(end)s GROUP BY 1, 2, 3, 4, 5"
        ),
        "feedback": rows(
            f"SELECT date_trunc('quarter', created_at {LOCAL})::date, kind, count(*) FROM feedback "
            "WHERE created_at >= %(start)s AND created_at < %(end)s GROUP BY 1, 2"
        ),
        "allegations": rows(
            f"SELECT date_trunc('quarter', created_at {LOCAL})::date, allegation_group, count(*) "
            "FROM allegation WHERE created_at >= %(start)s AND created_at < %(end)s GROUP BY 1, 2"
        ),
        "complaint_cases": rows(
            f"SELECT date_trunc('quarter', logged_at {LOCAL})::date, "
            "count(*) FILTER (WHERE escalated_at IS NOT NULL), "
            "count(*) FILTER (WHERE escalated_at IS NULL AND EXISTS "
            "(SELECT 1 FROM service_recovery_action a WHERE a.case_id = cc.id)), "
            "percentile_cont(0.5) WITHIN GROUP "
            "(ORDER BY extract(epoch FROM first_contact_at - logged_at)) "
            "FROM complaint_case cc WHERE logged_at >= %(start)s AND logged_at < %(end)s GROUP BY 1"
        ),
        "satisfaction": rows(
            f"SELECT date_trunc('quarter', satisfaction_at {LOCAL})::date, count(*), "
            "count(*) FILTER (WHERE satisfaction_score >= 4) FROM complaint_case "
            "WHERE satisfaction_score IS NOT NULL "
            "AND satisfaction_at >= %(start)s AND satisfaction_at < %(end)s GROUP BY 1"
        ),
        "call_statistics": rows(
            "SELECT fiscal_year, fiscal_quarter, non_emergency_calls, "
            "answered_within_2_minutes_percent, average_wait_seconds, average_handling_seconds "
            "FROM call_statistics WHERE fiscal_year IN (%(baseline)s, %(current)s)",
            {"baseline": BASELINE_YEAR, "current": CURRENT_YEAR},
        ),
        "top_categories": rows(
            "SELECT c.code, count(*) FROM report r JOIN category c ON c.id = r.category_id "
            "WHERE r.created_at >= %(start)s AND r.created_at < %(end)s "
            "GROUP BY c.code ORDER BY 2 DESC",
            {"start": q_start, "end": q_end},
        ),
        "outcomes_by_authority": rows(
            "SELECT local_authority_code, coalesce(outcome, ''), destination_kind, count(*) "
            "FROM report WHERE created_at >= %(start)s AND created_at < %(end)s GROUP BY 1, 2, 3",
            {"start": q_start, "end": q_end},
        ),
        "partners": rows(
            "SELECT p.code, count(*), count(f.acknowledged_at), count(f.resolved_at), "
            "percentile_cont(0.5) WITHIN GROUP "
            "(ORDER BY extract(epoch FROM f.acknowledged_at - f.sent_at)), "
            "percentile_cont(0.5) WITHIN GROUP "
            "(ORDER BY extract(epoch FROM f.resolved_at - f.sent_at)) "
            "FROM referral f JOIN partner p ON p.id = f.partner_id "
            "WHERE f.sent_at >= %(start)s AND f.sent_at < %(end)s GROUP BY p.code",
            {"start": q_start, "end": q_end},
        ),
    }
    return report


# --- requests -----------------------------------------------------------------------------


@dataclass
class Series:
    """Latencies of one measured thing, in milliseconds."""

    label: str
    samples: list[float] = field(default_factory=list)
    skipped: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        if len(self.samples) < 2:
            return self.samples[0]
        return statistics.quantiles(self.samples, n=20, method="inclusive")[18]


def request(
    base_url: str, path: str, token: str | None = None, body: dict | None = None
) -> tuple[int, bytes, float]:
    """One request on a new connection (gunicorn's sync workers close each one): status,
    body, and milliseconds from sending to the last byte read."""
    parts = urlsplit(base_url)
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
    try:
        started = time.perf_counter()
        connection.request("POST" if body is not None else "GET", path, body=data, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        return response.status, payload, elapsed
    finally:
        connection.close()


def sign_in(base_url: str, password: str) -> str:
    """The demo analyst's access token."""
    status, payload, _ = request(
        base_url, "/v1/auth/login", body={"email": ANALYST, "password": password}
    )
    if status != 200:
        raise BenchError(f"POST /v1/auth/login answered {status}: {payload[:300]!r}")
    return json.loads(payload)["access_token"]


@dataclass
class Measured:
    endpoints: dict[str, Series]
    raw: dict[str, Series]
    responses: dict[str, Any]
    raw_results: dict[str, Any]
    checks: list[str]
    load_after: float  # the machine's 1-minute load average when the measuring ended


def measure(base_url: str, token: str, url: str, args: argparse.Namespace) -> Measured:
    """Warm up, then the two endpoints in turn, ``--requests`` times each, with the raw-SQL
    baselines run ``--baseline-runs`` times each at even intervals between them."""
    import psycopg

    paths = {"pcc": PCC_PATH, "confidence": CONFIDENCE_PATH}
    endpoints = {key: Series(f"GET {path}") for key, path in paths.items()}
    raw = {key: Series(f"raw SQL ({key})") for key in paths}
    responses: dict[str, Any] = {}
    for key, path in paths.items():
        status, payload, _ = request(base_url, path, token)
        if status in (404, 405):
            endpoints[key].skipped = f"not there yet ({status})"
            log(f"{path}: SKIPPED, the route answers {status}")
        elif status != 200:
            raise BenchError(f"{path} answered {status}: {payload[:500]!r}")
        else:
            responses[key] = json.loads(payload)
    live = [key for key in paths if not endpoints[key].skipped]
    log(f"load average before measuring: {os.getloadavg()[0]:.1f}")
    queries = {"pcc": raw_pcc_report, "confidence": raw_confidence}
    raw_results: dict[str, Any] = {}
    with psycopg.connect(psycopg_dsn(url), autocommit=True) as conn:
        log(f"warm-up: {args.warmup} requests per endpoint, one run of each raw query")
        for _ in range(args.warmup):
            for key in live:
                request(base_url, paths[key], token)
        for key, query in queries.items():
            raw_results[key] = query(conn)
        slots = {
            round((k + 0.5) * args.requests / args.baseline_runs) for k in range(args.baseline_runs)
        }
        log(
            f"measuring: {args.requests} requests per endpoint, {len(slots)} runs of each raw query"
        )
        for i in range(args.requests):
            for key in live:
                status, payload, elapsed = request(base_url, paths[key], token)
                if status != 200:
                    raise BenchError(f"{paths[key]} answered {status}: {payload[:300]!r}")
                endpoints[key].samples.append(elapsed)
            if i in slots:
                for key, query in queries.items():
                    started = time.perf_counter()
                    query(conn)
                    raw[key].samples.append((time.perf_counter() - started) * 1000)
            if (i + 1) % 50 == 0:
                log(f"  {i + 1}/{args.requests}")
    checks = compare(responses, raw_results)
    return Measured(endpoints, raw, responses, raw_results, checks, os.getloadavg()[0])


def compare(responses: Mapping[str, Any], raw: Mapping[str, Any]) -> list[str]:
    """The endpoints' numbers against the raw rows' (a benchmark of wrong answers is no use)."""
    checks = []
    confidence = responses.get("confidence")
    if confidence is not None:
        expected = raw["confidence"]
        group = (confidence.get("groups") or [{}])[0]
        got = {"n": group.get("n"), "counts": group.get("counts")}
        want = {"n": expected["n"], "counts": expected["total"]}
        channels = {k: sum(v.values()) for k, v in expected["counts"].items()}
        verdict = "agree" if got == want and group.get("channels") == channels else "DIFFER"
        checks.append(
            f"confidence {REPORT_QUARTER.label}: endpoint n={got['n']}, "
            f"{group.get('percent_confident')}% confident, channels {group.get('channels')}; "
            f"raw rows n={want['n']}, {expected['percent_confident']}% confident, "
            f"channels {channels}: {verdict}"
        )
    report = responses.get("pcc")
    if report is not None:
        want = pcc_raw_figures(raw["pcc"])
        got = pcc_figures(report)
        compared = [path for path in want if path in got]
        differ = [path for path in compared if got[path] != want[path]]
        missing = [path for path in want if path not in got]
        line = (
            f"PCC report {REPORT_QUARTER.label}: {len(compared)} figures compared with the raw rows"
        )
        if differ:
            examples = "; ".join(
                f"{'/'.join(map(str, p))}: endpoint {got[p]}, raw {want[p]}" for p in differ[:5]
            )
            line += f": {len(differ)} DIFFER ({examples})"
        else:
            line += ": all agree"
        if missing:
            line += (
                f"; {len(missing)} not found in the JSON (e.g. {'/'.join(map(str, missing[0]))})"
            )
        checks.append(line)
        checks.extend(partner_medians(report, raw["pcc"]))
    return checks


Figures = dict[tuple[Any, ...], Any]
REFERRED_KINDS = ("council", "housing_provider", "health_and_social_care", "environment_agency")


def pcc_figures(report: Mapping[str, Any]) -> Figures:
    """The report's figures by path, for the quarters it reports."""
    figures: Figures = {}

    def reported(section: str) -> Iterator[Mapping[str, Any]]:
        for row in report.get(section, {}).get("quarters", []):
            if row.get("reported", True):
                yield row

    for row in reported("public_confidence"):
        label = row["label"]
        figures[("confidence", label, "n")] = row["n"]
        for option, count in row["counts"].items():
            figures[("confidence", label, option)] = count
        for channel, count in row["channels"].items():
            figures[("confidence", label, channel)] = count
    for row in reported("demand_reduction"):
        label = row["label"]
        for kind, count in row["submissions"].items():
            figures[("submissions", label, kind)] = count
        for answer, count in row["would_have_called_101"].items():
            figures[("101", label, answer)] = count
        figures[("referred", label)] = row["referred_to_partners"]
        statistics_row = row.get("call_statistics") or {}
        figures[("calls", label)] = statistics_row.get("non_emergency_calls")
    for row in reported("feedback_and_complaints"):
        label = row["label"]
        for key in ("complaints_logged", "compliments", "suggestions", "escalated"):
            figures[("feedback", label, key)] = row[key]
        figures[("feedback", label, "service_recovery")] = row["service_recovery"]
        figures[("feedback", label, "first_contact")] = row["median_time_to_first_contact_seconds"]
        for group, count in row["allegations"].items():
            figures[("allegations", label, group)] = count
        figures[("satisfaction", label, "answers")] = row["satisfaction"]["answers"]
        figures[("satisfaction", label, "satisfied")] = row["satisfaction"]["satisfied"]
    issues = report.get("most_common_issues", {})
    for item in issues.get("categories", []):
        figures[("top", item["code"])] = item["count"]
    for item in issues.get("by_local_authority", []):
        figures[("authority", item["code"])] = item["count"]
        for outcome, count in item.get("outcomes", {}).items():
            figures[("authority", item["code"], outcome)] = count
    for item in report.get("partner_performance", {}).get("partners", []):
        for key in ("sent", "acknowledged", "resolved"):
            figures[("partner", item["code"], key)] = item[key]
    return figures


def pcc_raw_figures(raw: Mapping[str, list[tuple]]) -> Figures:
    """The same figures computed from the raw-SQL baseline's rows."""
    figures: Counter[tuple[Any, ...]] = Counter()

    def label(day: date) -> str:
        return Quarter.of(day).label

    labels = [
        Quarter(year, q).label
        for year in (BASELINE_YEAR, CURRENT_YEAR)
        for q in range(1, 5)
        if Quarter(year, q) <= REPORT_QUARTER
    ]
    for name in labels:  # a quarter without rows still shows its zeros
        for option in OPTIONS:
            figures[("confidence", name, option)] += 0
    for day, option, count in raw["confidence_votes"]:
        figures[("confidence", label(day), option)] += count
        figures[("confidence", label(day), "app")] += count
        figures[("confidence", label(day), "n")] += count
    for day, *sums in raw["confidence_events"]:
        for option, total in zip(OPTIONS, sums, strict=True):
            figures[("confidence", label(day), option)] += int(total or 0)
            figures[("confidence", label(day), "event")] += int(total or 0)
            figures[("confidence", label(day), "n")] += int(total or 0)
    for day, code, _channel, destination, answer, count in raw["reports"]:
        kind = "question" if code == "question" else "report"
        figures[("submissions", label(day), kind)] += count
        figures[("submissions", label(day), "total")] += count
        figures[("101", label(day), answer or "unanswered")] += count
        if destination in REFERRED_KINDS:
            figures[("referred", label(day))] += count
    for day, kind, count in raw["feedback"]:
        figures[("submissions", label(day), "feedback")] += count
        figures[("submissions", label(day), "total")] += count
        key = {"dissatisfaction": "complaints_logged", "compliment": "compliments"}
        figures[("feedback", label(day), key.get(kind, "suggestions"))] += count
    for day, group, count in raw["allegations"]:
        figures[("allegations", label(day), group)] += count
    out: Figures = dict(figures)
    for day, escalated, recovered, first_contact in raw["complaint_cases"]:
        out[("feedback", label(day), "escalated")] = escalated
        out[("feedback", label(day), "service_recovery")] = recovered
        out[("feedback", label(day), "first_contact")] = (
            None
            if first_contact is None
            else int(Decimal(repr(first_contact)).quantize(1, ROUND_HALF_UP))
        )
    for day, answers, satisfied in raw["satisfaction"]:
        out[("satisfaction", label(day), "answers")] = answers
        out[("satisfaction", label(day), "satisfied")] = satisfied
    for year, number, calls, *_ in raw["call_statistics"]:
        if Quarter(year, number) <= REPORT_QUARTER:
            out[("calls", Quarter(year, number).label)] = calls
    for code, count in raw["top_categories"][:10]:
        out[("top", code)] = count
    for authority, outcome, _destination, count in raw["outcomes_by_authority"]:
        if authority is None:
            continue
        out[("authority", authority)] = out.get(("authority", authority), 0) + count
        key = ("authority", authority, outcome or "none_recorded")
        out[key] = out.get(key, 0) + count
    for code, sent, acknowledged, resolved, *_ in raw["partners"]:
        out[("partner", code, "sent")] = sent
        out[("partner", code, "acknowledged")] = acknowledged
        out[("partner", code, "resolved")] = resolved
    return out


def partner_medians(report: Mapping[str, Any], raw: Mapping[str, list[tuple]]) -> list[str]:
    """The report's median times (estimated from the rollup's histogram) beside the exact ones."""
    exact = {code: (ack, res) for code, _s, _a, _r, ack, res in raw["partners"]}
    lines = []
    for item in report.get("partner_performance", {}).get("partners", [])[:3]:
        ack, res = exact.get(item["code"], (None, None))
        lines.append(
            f"partner {item['code']}: median to acknowledge {item['median_seconds_to_acknowledge']} s "
            f"(histogram estimate) vs {ack and round(ack)} s exact; to resolve "
            f"{item['median_seconds_to_resolve']} s vs {res and round(res)} s"
        )
    return lines


# --- the report ---------------------------------------------------------------------------


def postgres_version(admin_dsn: str) -> str:
    import psycopg

    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=3) as admin:
        return admin.execute("SHOW server_version").fetchone()[0].split(" ")[0]


def describe_load(stats: LoadStats) -> str:
    rows = stats.rows
    return (
        f"{rows.get('vote', 0):,} votes, {rows.get('confidence_tally', 0):,} event tallies, "
        f"{rows.get('report', 0):,} reports, {rows.get('referral', 0):,} referrals, "
        f"{rows.get('feedback', 0):,} feedback, {rows.get('complaint_case', 0):,} complaint "
        f"cases, {rows.get('allegation', 0):,} allegations, {rows.get('device', 0):,} devices"
    )


def verdict(series: Series, key: str) -> str:
    if series.skipped:
        return f"<= {TARGET_MS[key]:.0f} ms: not measured"
    return f"<= {TARGET_MS[key]:.0f} ms: " + (
        "met" if series.median <= TARGET_MS[key] else "NOT MET"
    )


def markdown(measured: Measured, header: str) -> str:
    lines = [
        header,
        "",
        "| Measure | median ms | p95 ms | target (median) | raw SQL median ms | raw SQL p95 ms "
        "| ratio (endpoint / raw SQL) |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    labels = {"pcc": f"`GET {PCC_PATH}` (JSON)", "confidence": f"`GET {CONFIDENCE_PATH}`"}
    for key, series in measured.endpoints.items():
        raw = measured.raw[key]
        if series.skipped:
            lines.append(
                f"| {labels[key]} | - | - | {verdict(series, key)} | {raw.median:.0f} "
                f"| {raw.p95:.0f} | - |"
            )
            continue
        lines.append(
            f"| {labels[key]} | {series.median:.1f} | {series.p95:.1f} | {verdict(series, key)} "
            f"| {raw.median:.0f} | {raw.p95:.0f} | {series.median / raw.median:.4f} |"
        )
    return "\n".join(lines)


# --- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="1.0 = 10,000,000 votes and 1,000,000 reports (default); 0.001 for a quick check",
    )
    parser.add_argument("--requests", type=int, default=200, help="measured requests per endpoint")
    parser.add_argument("--warmup", type=int, default=10, help="warm-up requests per endpoint")
    parser.add_argument(
        "--baseline-runs", type=int, default=5, help="timed runs of each raw-SQL baseline"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    parser.add_argument(
        "--rollups",
        choices=("generate", "repair"),
        default="generate",
        help="generate: computed with rollups.contributions while generating, then COPY "
        "(default, faster); repair: copa.metrics.reconcile.repair() after loading",
    )
    parser.add_argument("--seed", type=int, default=2025, help="random seed of the data")
    parser.add_argument(
        "--keep", action="store_true", help="do not drop the database; print its URL"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="after loading, run `flask copa reconcile` (must exit 0): use with a small --scale",
    )
    parser.add_argument(
        "--pg-admin-dsn",
        default="host=127.0.0.1 port=5432 user=postgres dbname=postgres",
        help="where to create and drop the throwaway database",
    )
    parser.add_argument(
        "--pg-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432",
        help="SQLAlchemy URL of the same server, without the database name",
    )
    args = parser.parse_args(argv)
    if args.scale <= 0 or args.requests < 1 or args.baseline_runs < 1:
        parser.error("--scale, --requests and --baseline-runs must be positive")
    args.baseline_runs = min(args.baseline_runs, args.requests)
    return args


def _terminate(signum, frame):  # noqa: ANN001, ANN202
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    problem = postgresql_problem(args.pg_admin_dsn)
    if problem:
        log(f"PostgreSQL is not reachable ({problem}): nothing to measure")
        return 2
    started = datetime.now(UTC)
    load_before = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="copa-bench-metrics-"))
    password = secrets.token_urlsafe(16)
    try:
        with metrics_database(args.pg_admin_dsn, args.pg_url, args.keep) as url:
            env = copa_environment(url, workdir, password)
            stats = prepare(url, env, args)
            log(f"loaded {describe_load(stats)} in {stats.seconds['total']:.0f} s")
            for phase, seconds in stats.seconds.items():
                log(f"  {phase:<42} {seconds:8.1f} s")
            log(f"  rollup rows: {stats.rollup_rows}")
            if args.check:
                log("copa reconcile (reads every raw row: minutes at --scale 1):")
                log(reconcile_check(env))
            command = [sys.executable, "-m", "gunicorn", "--workers", str(args.workers), "wsgi:app"]
            with serving(command, env, workdir / "server.log") as server:
                token = sign_in(server.url, password)
                measured = measure(server.url, token, url, args)
            if args.keep:
                log(f"database kept: {url} (demo password {password})")
    except KeyboardInterrupt:
        log("\ninterrupted; cleaned up")
        return 130
    except BenchError as error:
        log(f"\nfailed: {error}")
        server_log = workdir / "server.log"
        if server_log.exists():
            log(f"server log (last lines):\n{tail(server_log)}")
        return 1
    finally:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)

    rollups = "computed while generating with rollups.contributions, then COPY"
    if args.rollups == "repair":
        rollups = "rewritten by copa.metrics.reconcile.repair()"
    header = (
        f"Machine: {machine()}; {started:%Y-%m-%d %H:%M} UTC; PostgreSQL "
        f"{postgres_version(args.pg_admin_dsn)}, Python {sys.version.split()[0]}.\n"
        f"Data (scale {args.scale:g}): {describe_load(stats)}, over 1 April 2024 to 31 March 2026; "
        f"migrated, seeded, loaded with COPY and VACUUM ANALYZEd in "
        f"{stats.seconds['total'] / 60:.1f} min (rollups {rollups}).\n"
        f"Requests: one at a time from one client on 127.0.0.1 to gunicorn --workers "
        f"{args.workers} (sync), the demo analyst's bearer token; {args.warmup} warm-up requests, "
        f"then {args.requests} per endpoint, the two taking turns. Raw SQL: the same figures "
        f"computed from the raw tables over one psycopg connection, {args.baseline_runs} runs "
        f"each, between the requests. Load average: {load_before:.1f} at the start, "
        f"{measured.load_after:.1f} at the end."
    )
    print()
    for key, series in measured.endpoints.items():
        raw = measured.raw[key]
        if series.skipped:
            print(f"{series.label}: SKIPPED ({series.skipped})")
        else:
            print(
                f"{series.label}: median {series.median:.1f} ms, p95 {series.p95:.1f} ms "
                f"({len(series.samples)} requests); target {verdict(series, key)}"
            )
        print(
            f"  raw SQL: median {raw.median:.1f} ms, p95 {raw.p95:.1f} ms ({len(raw.samples)} runs)"
            + (
                ""
                if series.skipped
                else f"; ratio endpoint / raw SQL {series.median / raw.median:.4f}"
            )
        )
    for check in measured.checks:
        print(f"check: {check}")
    print()
    print(markdown(measured, header))
    print()
    print(
        f"Command: .venv/bin/python {shlex.join(['bench/metrics.py', *(sys.argv[1:] if argv is None else argv)])}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
