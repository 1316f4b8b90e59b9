"""MindFlow's mood-log endpoints in the seed plan's stack (FastAPI + SQLAlchemy async +
asyncpg + PyJWT), for benchmarking the Rust server against it on the same database.

Implements, with MindFlow's semantics, field names and JSON shapes:

    GET  /api/v1/mood/logs   newest first by (logged_at, id); limit 1..100 (default 20),
                             keyset `cursor` (MindFlow's own cursor format, so cursors are
                             interchangeable), optional `from`/`to` (RFC 3339, half-open)
    POST /api/v1/mood/logs   validate, VADER sentiment of the note, time of day and ISO
                             weekday in the user's time zone, log + factors in one transaction

Authentication: `Authorization: Bearer <access token>` as issued by MindFlow (HS256, secret
`MINDFLOW_JWT_SECRET` = base64 of >= 32 bytes, `kid` = first 6 bytes of SHA-256(secret) in
hex, iss `mindflow`, aud `mindflow-api`, 5 s leeway), then one query per request checking
the user exists and is not deleted.

Environment: DATABASE_URL (postgres://...), MINDFLOW_JWT_SECRET,
MINDFLOW_JWT_PREVIOUS_SECRETS (optional, comma-separated), SEED_POOL_SIZE (default 10).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jwt
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictInt,
    field_validator,
)
from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    SmallInteger,
    String,
    Text,
    and_,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, selectinload
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

# ---------------------------------------------------------------------------------------
# Configuration and database.


def _async_url(url: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise RuntimeError("DATABASE_URL must be a postgres:// URL")


engine = create_async_engine(
    _async_url(os.environ["DATABASE_URL"]),
    pool_size=int(os.environ.get("SEED_POOL_SIZE", "10")),
    max_overflow=0,
    pool_pre_ping=False,
)
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)


async def get_db():
    async with SessionLocal() as session:
        yield session


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(PgUUID(as_uuid=True), primary_key=True)
    timezone: Mapped[Optional[str]] = mapped_column(String(50))
    deleted_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))


class MoodLog(Base):
    __tablename__ = "mood_logs"
    # Fetch created_at / processed_for_insights with RETURNING on insert.
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(PgUUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(PgUUID(as_uuid=True), ForeignKey("users.id"))
    mood_score: Mapped[int] = mapped_column(SmallInteger)
    energy_level: Mapped[Optional[int]] = mapped_column(SmallInteger)
    anxiety_level: Mapped[Optional[int]] = mapped_column(SmallInteger)
    note: Mapped[Optional[str]] = mapped_column(Text)
    note_sentiment: Mapped[Optional[float]] = mapped_column(Float)
    logged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    time_of_day: Mapped[Optional[str]] = mapped_column(String(20))
    day_of_week: Mapped[Optional[int]] = mapped_column(SmallInteger)
    location_type: Mapped[Optional[str]] = mapped_column(String(30))
    processed_for_insights: Mapped[Optional[bool]] = mapped_column(
        Boolean, server_default=text("false")
    )
    crisis_flag_triggered: Mapped[Optional[bool]] = mapped_column(
        Boolean, server_default=text("false")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))

    factors: Mapped[list["MoodFactor"]] = relationship(
        back_populates="log", cascade="all, delete-orphan"
    )


class MoodFactor(Base):
    __tablename__ = "mood_factors"

    id: Mapped[uuid.UUID] = mapped_column(PgUUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    mood_log_id: Mapped[uuid.UUID] = mapped_column(PgUUID(as_uuid=True), ForeignKey("mood_logs.id"))
    factor_type: Mapped[str] = mapped_column(String(30))
    factor_value: Mapped[Optional[str]] = mapped_column(String(50))
    impact_score: Mapped[Optional[int]] = mapped_column(SmallInteger)

    log: Mapped[MoodLog] = relationship(back_populates="factors")


# ---------------------------------------------------------------------------------------
# Problems (MindFlow's application/problem+json documents).

_TITLES = {401: "Unauthorized", 404: "Not Found", 422: "Unprocessable Entity"}


class Problem(Exception):
    def __init__(self, status: int, slug: str, detail: str, errors: list | None = None):
        self.status, self.slug, self.detail, self.errors = status, slug, detail, errors or []


def problem_response(p: Problem) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:mindflow:problem:{p.slug}",
        "title": _TITLES.get(p.status, "Internal Server Error"),
        "status": p.status,
        "detail": p.detail,
    }
    if p.errors:
        body["errors"] = p.errors
    return JSONResponse(body, status_code=p.status, media_type="application/problem+json")


def validation(errors: list[dict]) -> Problem:
    detail = (
        f"`{errors[0]['field']}`: {errors[0]['message']}"
        if len(errors) == 1
        else f"{len(errors)} fields are invalid"
    )
    return Problem(422, "validation", detail, errors)


# ---------------------------------------------------------------------------------------
# Authentication: MindFlow's access tokens.

ISSUER = "mindflow"
AUDIENCE = "mindflow-api"


def _load_keys() -> dict[str, bytes]:
    """Verification keys by `kid` (the current secret and any previous ones)."""
    texts = [os.environ["MINDFLOW_JWT_SECRET"]]
    texts += [t for t in os.environ.get("MINDFLOW_JWT_PREVIOUS_SECRETS", "").split(",") if t.strip()]
    keys = {}
    for t in texts:
        secret = base64.b64decode(t.strip(), validate=True)
        if len(secret) < 32:
            raise RuntimeError("a JWT secret must be at least 32 bytes")
        keys[hashlib.sha256(secret).hexdigest()[:12]] = secret
    return keys


JWT_KEYS = _load_keys()


async def current_user(request: Request, db: AsyncSession = Depends(get_db)) -> User:
    header = request.headers.get("authorization")
    if header is None:
        raise Problem(401, "unauthorized", "this endpoint needs an access token")
    if header.startswith("Bearer "):
        token = header[7:].strip()
    elif header.startswith("bearer "):
        token = header[7:].strip()
    else:
        raise Problem(401, "unauthorized", "expected `Authorization: Bearer <access_token>`")
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.InvalidTokenError:
        raise Problem(401, "unauthorized", "the access token is invalid or expired") from None
    key = JWT_KEYS.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise Problem(401, "unauthorized", "the access token was signed by an unknown key")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=5,
            options={"require": ["sub", "exp", "iss", "aud", "iat", "jti"]},
        )
        user_id = uuid.UUID(claims["sub"])
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise Problem(401, "unauthorized", "the access token is invalid or expired") from None
    user = (
        await db.execute(
            select(User).where(User.id == user_id, User.deleted_at.is_(None))
        )
    ).scalar_one_or_none()
    if user is None:
        raise Problem(401, "unauthorized", "the account no longer exists")
    return user


# ---------------------------------------------------------------------------------------
# Schemas.


def format_instant(t: datetime) -> str:
    """RFC 3339 in UTC with microseconds, as MindFlow writes instants."""
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})\Z")


def parse_instant(s: str) -> datetime:
    t = None
    if _RFC3339.match(s):
        try:
            t = datetime.fromisoformat(s.upper().replace(" ", "T"))
        except ValueError:
            pass
    if t is None:
        raise ValueError("must be an RFC 3339 timestamp with an offset, e.g. 2026-11-25T08:30:00+01:00")
    try:
        t = t.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("must be between the years 1900 and 9999") from None
    if not 1900 <= t.year <= 9999:
        raise ValueError("must be between the years 1900 and 9999")
    return t


Instant = Annotated[datetime, PlainSerializer(format_instant, return_type=str)]
LocationType = Literal["home", "work", "school", "outdoors", "commute", "social", "other"]


class FactorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    factor_type: str
    factor_value: Optional[Annotated[str, Field(max_length=50)]] = None
    impact_score: Optional[Annotated[StrictInt, Field(ge=-5, le=5)]] = None

    @field_validator("factor_type")
    @classmethod
    def normalise_type(cls, v: str) -> str:
        v = v.strip().lower()
        if "\0" in v:
            raise ValueError("must not contain NUL characters")
        if not v:
            raise ValueError("must not be empty")
        if len(v) > 30:
            raise ValueError("must be at most 30 characters")
        return v

    @field_validator("factor_value")
    @classmethod
    def no_nul(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and "\0" in v:
            raise ValueError("must not contain NUL characters")
        return v


class MoodLogCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mood_score: Annotated[StrictInt, Field(ge=1, le=10)]
    energy_level: Optional[Annotated[StrictInt, Field(ge=1, le=10)]] = None
    anxiety_level: Optional[Annotated[StrictInt, Field(ge=1, le=10)]] = None
    note: Optional[Annotated[str, Field(max_length=5000)]] = None
    logged_at: Optional[str] = None
    location_type: Optional[LocationType] = None
    factors: Optional[Annotated[list[FactorIn], Field(max_length=20)]] = None

    @field_validator("note")
    @classmethod
    def note_no_nul(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and "\0" in v:
            raise ValueError("must not contain NUL characters")
        return v

    @field_validator("logged_at", mode="before")
    @classmethod
    def logged_at_instant(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("must not be null (omit it to mean now)")
        if not isinstance(v, str):
            raise ValueError("must be an RFC 3339 timestamp string")
        t = parse_instant(v)
        if t > datetime.now(timezone.utc) + timedelta(minutes=5):
            raise ValueError("must not be more than 5 minutes in the future")
        return v


class FactorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    mood_log_id: uuid.UUID
    factor_type: str
    factor_value: Optional[str]
    impact_score: Optional[int]


class MoodLogOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    mood_score: int
    energy_level: Optional[int]
    anxiety_level: Optional[int]
    note: Optional[str]
    note_sentiment: Optional[float]
    logged_at: Instant
    time_of_day: Optional[str]
    day_of_week: Optional[int]
    location_type: Optional[str]
    processed_for_insights: Optional[bool]
    crisis_flag_triggered: Optional[bool]
    created_at: Instant
    factors: list[FactorOut]

    @field_validator("factors")
    @classmethod
    def sorted_factors(cls, v: list[FactorOut]) -> list[FactorOut]:
        # MindFlow shows factors sorted by (type, value, id): one order on every read.
        return sorted(
            v,
            key=lambda f: (
                f.factor_type,
                f.factor_value is not None,
                f.factor_value or "",
                str(f.id),
            ),
        )


class MoodLogCreated(MoodLogOut):
    # MindFlow also reports its crisis assessment here; the seed app does none (see README).
    crisis: None = None


class MoodLogPage(BaseModel):
    items: list[MoodLogOut]
    next_cursor: Optional[str]


# ---------------------------------------------------------------------------------------
# Derived fields.

_analyzer = SentimentIntensityAnalyzer()


def sentiment(note: str) -> Optional[float]:
    """VADER's compound score, in [-1, 1], to four decimals; none for a blank note."""
    if not note.strip():
        return None
    compound = _analyzer.polarity_scores(note)["compound"]
    return round(max(-1.0, min(1.0, compound)), 4)


def local_parts(t: datetime, tz_name: Optional[str]) -> tuple[str, int]:
    """Time of day and ISO weekday (Monday = 1) in the user's zone (UTC when unknown)."""
    try:
        tz = ZoneInfo((tz_name or "").strip() or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = timezone.utc
    local = t.astimezone(tz)
    h = local.hour
    part = (
        "morning" if 5 <= h <= 11 else "afternoon" if 12 <= h <= 16 else "evening" if 17 <= h <= 21 else "night"
    )
    return part, local.isoweekday()


# MindFlow's keyset cursor: base64url (no padding) of {"f": field, "d": descending,
# "v": last value, "i": last id}.


def encode_cursor(log: MoodLog) -> str:
    doc = {"f": "logged_at", "d": True, "v": format_instant(log.logged_at), "i": str(log.id)}
    raw = json.dumps(doc, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(text_: str) -> tuple[datetime, uuid.UUID]:
    try:
        if len(text_) > 1024:
            raise ValueError
        doc = json.loads(base64.urlsafe_b64decode(text_ + "=" * (-len(text_) % 4)))
        if doc["f"] != "logged_at" or doc["d"] is not True:
            raise ValueError
        return parse_instant(doc["v"]), uuid.UUID(doc["i"])
    except (ValueError, KeyError, TypeError, binascii.Error, json.JSONDecodeError):
        raise validation([{"field": "cursor", "message": "not a cursor of this query"}]) from None


# ---------------------------------------------------------------------------------------
# The app.

app = FastAPI(title="MindFlow seed stack (mood logs)", docs_url=None, redoc_url=None, openapi_url=None)


@app.exception_handler(Problem)
async def _problem(_: Request, exc: Problem) -> JSONResponse:
    return problem_response(exc)


def _field_path(loc: tuple) -> str:
    out = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query") else loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


@app.exception_handler(RequestValidationError)
async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = []
    for e in exc.errors():
        field = "body" if e["type"] == "json_invalid" else _field_path(tuple(e["loc"]))
        message = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            message = "unknown field"
        errors.append({"field": field, "message": message})
    return problem_response(validation(errors))


@app.get("/api/v1/mood/logs", response_model=MoodLogPage)
async def list_logs(
    limit: Annotated[str, Query()] = "20",
    cursor: Optional[str] = None,
    from_: Annotated[Optional[str], Query(alias="from")] = None,
    to: Optional[str] = None,
    user: User = Depends(current_user),
    db: AsyncSession = Depends(get_db),
):
    errors = []
    n = int(limit) if limit.isdigit() else 0
    if not 1 <= n <= 100:
        errors.append({"field": "limit", "message": "must be an integer from 1 to 100"})
    bounds = {}
    for name, value in (("from", from_), ("to", to)):
        if value is not None:
            try:
                bounds[name] = parse_instant(value)
            except ValueError as e:
                errors.append({"field": name, "message": str(e)})
    if "from" in bounds and "to" in bounds and bounds["from"] >= bounds["to"]:
        errors.append({"field": "to", "message": "must be later than `from`"})
    if errors:
        raise validation(errors)

    query = select(MoodLog).where(MoodLog.user_id == user.id)
    if "from" in bounds:
        query = query.where(MoodLog.logged_at >= bounds["from"])
    if "to" in bounds:
        query = query.where(MoodLog.logged_at < bounds["to"])
    if cursor:
        at, last_id = decode_cursor(cursor)
        query = query.where(
            or_(MoodLog.logged_at < at, and_(MoodLog.logged_at == at, MoodLog.id < last_id))
        )
    query = (
        query.order_by(MoodLog.logged_at.desc(), MoodLog.id.desc())
        .limit(n + 1)
        .options(selectinload(MoodLog.factors))
    )
    logs = list((await db.execute(query)).scalars())
    more = len(logs) > n
    logs = logs[:n]
    return {"items": logs, "next_cursor": encode_cursor(logs[-1]) if more else None}


@app.post("/api/v1/mood/logs", status_code=201, response_model=MoodLogCreated)
async def create_log(
    data: MoodLogCreate,
    user: User = Depends(current_user),
    db: AsyncSession = Depends(get_db),
):
    logged_at = (
        parse_instant(data.logged_at) if data.logged_at is not None else datetime.now(timezone.utc)
    )
    time_of_day, day_of_week = local_parts(logged_at, user.timezone)
    log = MoodLog(
        id=uuid.uuid4(),
        user_id=user.id,
        mood_score=data.mood_score,
        energy_level=data.energy_level,
        anxiety_level=data.anxiety_level,
        note=data.note,
        note_sentiment=sentiment(data.note) if data.note is not None else None,
        logged_at=logged_at,
        time_of_day=time_of_day,
        day_of_week=day_of_week,
        location_type=data.location_type,
        crisis_flag_triggered=False,
        factors=[MoodFactor(**f.model_dump()) for f in data.factors or []],
    )
    db.add(log)
    await db.commit()
    return JSONResponse(
        MoodLogCreated.model_validate(log).model_dump(mode="json"),
        status_code=201,
        headers={"location": f"/api/v1/mood/logs/{log.id}"},
    )
