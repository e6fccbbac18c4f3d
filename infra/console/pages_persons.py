"""The console's person pages: look a person up by ID number (/console/persons), their timeline as
of a moment (/console/persons/{person_ref}) and who read their data (.../access-log).

Every read is appended to the access log with the purpose given at sign-in; the ID number typed
in is never echoed or put in a URL, only the opaque person_ref.
"""

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from domain.errors import LedgerError
from infra.console.plumbing import Console, Redirect, moment, picker_value
from infra.service.problems import Problem


def register_person_pages(api: APIRouter, console: Console) -> None:
    from infra.audit.store import AuditStore

    ledger, store, html, page, signed_in = console.ledger, console.store, console.html, console.page, console.signed_in

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
            pid, _, _ = ledger.person_ref(id_number.strip()[:64], "id_number")
            person = console.person_of(str(pid), key)
        except (LedgerError, Problem) as error:
            code = error.code if isinstance(error, Problem) else error.to_dict()["code"]
            messages = {
                "UNKNOWN_PERSON": "No enrolled person with this ID number in your region. 您的辖区内查无此人。",
                "FORBIDDEN": "No enrolled person with this ID number in your region. 您的辖区内查无此人。",
            }
            message = messages.get(code, "Not a valid 18-character ID number. 身份证号码格式不正确。")
            return page("persons.html", request, session, key, status=404 if code in messages else 422, error=message)
        store.record_access(key, str(person.id), "/console/persons (lookup)", session.purpose)
        raise Redirect(f"/console/persons/{pid}")

    @api.get("/persons/{person_ref}")
    @html
    def person(
        request: Request,
        person_ref: str,
        as_of: Annotated[str | None, Query(max_length=40)] = None,
        known_at: Annotated[str | None, Query(max_length=40)] = None,
    ) -> Response:
        from infra.audit.history import person_history

        session, key = signed_in(request, "auditor")
        as_of_at, known = moment(as_of, "as_of"), moment(known_at, "known_at")
        found = console.read_person(person_ref, key, session, "/console/persons/{person_ref}")
        history = person_history(ledger, AuditStore(ledger), found.id, as_of_at, known)
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
            entries=store.access_log(str(found.id)),
            tab="access",
        )
