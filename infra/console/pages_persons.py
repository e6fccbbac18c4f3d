"""The console's person pages: look a person up by ID number (/console/persons), their timeline as
of a moment (/console/persons/{person_ref}), who read their data (.../access-log) and everything
the ledger holds about them (.../subject-report, PIPL art. 45).

Every read is appended to the access log with the purpose given at sign-in (by the core); the ID
number typed in is never echoed or put in a URL, only the opaque person_ref.
"""

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from domain.errors import LedgerError
from infra.console.plumbing import Console, Redirect, moment, picker_value
from infra.pages.subject_report import subject_report_context
from infra.roles import Principal

NOT_IN_REGION = "No enrolled person with this ID number in your region. 您的辖区内查无此人。"
NOT_AN_ID_NUMBER = "Not a valid 18-character ID number. 身份证号码格式不正确。"


def register_person_pages(api: APIRouter, console: Console) -> None:
    reads, html, page, signed_in = console.ledger.reads, console.html, console.page, console.signed_in

    @api.get("/persons")
    @html
    def persons(request: Request) -> Response:
        session, key = signed_in(request, "auditor", "admin")
        return page("persons.html", request, session, key, error=None)

    @api.post("/persons")
    @html
    def search(request: Request, id_number: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = "") -> Response:
        session, key = signed_in(request, "auditor")
        console.check_csrf(session, csrf)
        try:
            ref = reads.lookup(
                id_number.strip()[:64], Principal.of_key(key), session.purpose, "/console/persons (lookup)"
            )
        except LedgerError as error:
            known = error.code in ("UNKNOWN_PERSON", "FORBIDDEN")  # one answer for both: no oracle
            message = NOT_IN_REGION if known else NOT_AN_ID_NUMBER
            return page("persons.html", request, session, key, status=404 if known else 422, error=message)
        raise Redirect(f"/console/persons/{ref.id}")

    @api.get("/persons/{person_ref}")
    @html
    def person(
        request: Request,
        person_ref: str,
        as_of: Annotated[str | None, Query(max_length=40)] = None,
        known_at: Annotated[str | None, Query(max_length=40)] = None,
    ) -> Response:
        session, key = signed_in(request, "auditor")
        as_of_at, known = moment(as_of, "as_of"), moment(known_at, "known_at")
        found = console.read_person(person_ref, key, session, "/console/persons/{person_ref}")
        history = reads.history(found.id, as_of_at, known)
        return page(
            "person.html",
            request,
            session,
            key,
            ref=person_ref,
            history=history,
            as_of=picker_value(as_of_at),
            known_at=picker_value(known),
            tab="timeline",
        )

    @api.get("/persons/{person_ref}/access-log")
    @html
    def access_log(request: Request, person_ref: str) -> Response:
        session, key = signed_in(request, "auditor", "admin")
        found = console.read_person(person_ref, key, session, "/console/persons/{person_ref}/access-log")
        return page(
            "access_log.html",
            request,
            session,
            key,
            ref=person_ref,
            masked=found.masked,
            entries=reads.access_entries(found),
            tab="access",
        )

    @api.get("/persons/{person_ref}/subject-report")
    @html
    def subject_report(request: Request, person_ref: str) -> Response:
        session, key = signed_in(request, "auditor")
        found = console.read_person(person_ref, key, session, "/console/persons/{person_ref}/subject-report")
        report = console.ledger.audits.subject_report(found)
        return page("subject_report_page.html", request, session, key, ref=person_ref, tab="subject",
                    **subject_report_context(report))  # fmt: skip
