"""The OpenAPI pieces of `GET /api/v1/calls`, for `web.api.openapi` to merge into its document.

Kept beside the handler so the parameters documented and the ones `web.api.calls` reads stay
together; the lead's openapi module adds `paths()` to its paths and `schemas()` to its schemas.
"""

from __future__ import annotations

from typing import Any

from crm.models import CALL_DIRECTIONS, CALL_OUTCOMES, LEG_RESULTS
from web.api.calls import DEFAULT_LIMIT, MAX_LIMIT
from web.api.json_io import MAX_OFFSET
from web.api.openapi_schemas import Schema, date_time, id_schema, nullable, obj, ref

#: The query parameters `web.api.calls.list_calls` reads.
PARAMETERS = ("from", "to", "since", "outcome", "direction", "manager", "phone", "limit", "offset")


def _query(name: str, description: str, schema: Schema) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def paths() -> dict[str, Any]:
    params = [
        _query("from", "Calls started on or after this day (shop's time zone).", {"type": "string", "format": "date"}),
        _query("to", "Calls started on or before this day (shop's time zone).", {"type": "string", "format": "date"}),
        _query("since", "Calls started at or after this moment (ISO 8601; without an offset: shop's time zone).",
               {"type": "string"}),
        _query("outcome", "Only answered, missed, or lost calls (`lost`: the end was not seen).",
               {"enum": list(CALL_OUTCOMES)}),
        _query("direction", "Only calls in this direction.", {"enum": list(CALL_DIRECTIONS)}),
        _query("manager", "Calls a manager took, placed, or that rang them: an id or `me`.",
               {"type": "string", "pattern": "^([0-9]+|me)$"}),
        _query("phone", "The customer's number in any format, e.g. `8 916 111-00-01`; an unparseable one gives "
               "422 `invalid-phone`.", {"type": "string", "maxLength": 64}),
        _query("limit", "Page size.",
               {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}),
        _query("offset", "Rows to skip.", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}),
    ]
    originate = {"post": {
        "operationId": "originateCall", "tags": ["calls"],
        "summary": "Click-to-call: ring the caller's own phone, then dial the customer with the shop's caller ID.",
        "description": "`phone` in any format; it may be left out when `task_id` or `order_id` names a customer "
                       "with a phone. The call record (`call_id` is its `linkedid`) is linked to the task and order. "
                       "409 `phone-unreachable`: the caller has no phone extension or it is not registered; "
                       "503 `pbx-unavailable`: the AMI connection is down or Asterisk refused the call.",
        "requestBody": {"required": True, "content": {"application/json": {"schema": ref("OriginateRequest")}}},
        "responses": {
            "202": {"description": "Asterisk is ringing the caller's phone.",
                    "content": {"application/json": {"schema": ref("OriginateAccepted")}}},
            "401": {"$ref": "#/components/responses/Unauthorized"},
            "400": {"$ref": "#/components/responses/E400"},
            "403": {"$ref": "#/components/responses/E403"},
            "404": {"$ref": "#/components/responses/E404"},
            "409": {"$ref": "#/components/responses/E409"},
            "413": {"$ref": "#/components/responses/E413"},
            "415": {"$ref": "#/components/responses/E415"},
            "422": {"$ref": "#/components/responses/E422"},
            "503": {"description": "The PBX cannot take the call now (`pbx-unavailable`).",
                    "content": {"application/json": {"schema": ref("Error")}}},
            "default": {"$ref": "#/components/responses/Error"},
        },
    }}
    errors = {"400": {"$ref": "#/components/responses/E400"}, "401": {"$ref": "#/components/responses/Unauthorized"},
              "403": {"$ref": "#/components/responses/E403"}, "404": {"$ref": "#/components/responses/E404"},
              "413": {"$ref": "#/components/responses/E413"}, "415": {"$ref": "#/components/responses/E415"},
              "422": {"$ref": "#/components/responses/E422"}, "default": {"$ref": "#/components/responses/Error"}}
    result = {"post": {
        "operationId": "recordCallResult", "tags": ["calls"],
        "parameters": [{"name": "linkedid", "in": "path", "required": True, "description": "The call's `linkedid`.",
                        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}}],
        "summary": "What the call came to: a call result code, a note on the customer, a follow-up task for you.",
        "description": "Only someone the call involved (took it, placed it, or was rung) or a supervisor may.",
        "requestBody": {"required": True, "content": {"application/json": {"schema": ref("CallResultInput")}}},
        "responses": {"200": {"description": "Recorded.",
                              "content": {"application/json": {"schema": ref("CallResultRecorded")}}}, **errors},
    }}
    dispositions = {"get": {
        "operationId": "listCallDispositions", "tags": ["calls"],
        "summary": "The call result codes an admin defined, in their order.",
        "responses": {"200": {"description": "The active codes.",
                              "content": {"application/json": {"schema": ref("CallDispositionList")}}},
                      "401": {"$ref": "#/components/responses/Unauthorized"},
                      "default": {"$ref": "#/components/responses/Error"}},
    }}
    return {"/api/v1/calls/originate": originate, "/api/v1/calls/{linkedid}/result": result,
            "/api/v1/call-dispositions": dispositions, "/api/v1/calls": {"get": {
        "operationId": "listCalls", "tags": ["calls"], "parameters": params,
        "summary": "Call records newest first, with their legs; operators see only calls they took, placed, "
                   "or that rang them.",
        "responses": {
            "200": {"description": "A page of calls.", "content": {"application/json": {"schema": ref("CallPage")}}},
            "401": {"$ref": "#/components/responses/Unauthorized"},
            "422": {"$ref": "#/components/responses/E422"},
            "default": {"$ref": "#/components/responses/Error"},
        },
    }}}


def schemas() -> dict[str, Schema]:
    text = {"type": "string"}
    seconds = nullable("integer", minimum=0, description="Whole seconds (rounded half up).")
    leg: dict[str, Schema] = {
        "channel": text, "extension": nullable("string"), "number": nullable("string"),
        "manager_id": nullable("integer"), "manager_name": nullable("string"),
        "ringing_at": nullable("string", format="date-time"), "answered_at": nullable("string", format="date-time"),
        "ended_at": nullable("string", format="date-time"), "dial_status": text, "ring_s": seconds,
        "result": {"enum": [*LEG_RESULTS, None]},
    }
    call: dict[str, Schema] = {
        "id": id_schema(), "linkedid": text, "direction": {"enum": [*CALL_DIRECTIONS, "unknown"]},
        "caller": text, "callee": text, "did": text, "customer_e164": nullable("string"),
        "customer_id": nullable("integer"), "customer_name": nullable("string"), "order_id": nullable("integer"),
        "order_number": nullable("string"), "manager_id": nullable("integer"), "manager_name": nullable("string"),
        "operator_extension": text, "started_at": date_time(), "answered_at": nullable("string", format="date-time"),
        "ended_at": nullable("string", format="date-time"), "outcome": {"enum": [*CALL_OUTCOMES, None]},
        "reason": text, "answered_by": text, "hung_up_by": {"enum": ["customer", "operator", "pbx", None]},
        "hung_up_by_extension": text, "ring_s": seconds, "talk_s": seconds, "click_to_call": {"type": "boolean"},
        "queue": text, "transfer_kind": {"enum": ["blind", "attended", None]}, "transferred_to": text,
        "legs": {"type": "array", "items": ref("CallLeg")},
        "transfers": {"type": "array", "items": ref("CallTransfer"),
                      "description": "Every transfer in order; `operator_extension` is who took the last one, "
                                     "`answered_by` who answered first."},
        "queue_position": nullable("integer", minimum=1,
                                   description="The caller's place on joining the queue (1 = next)."),
        "queue_left_position": nullable("integer", minimum=1, description="Their place when they left the waiting "
                                                                          "list (answered, gave up, timed out)."),
        "queue_hold_s": {**seconds, "description": "How long they waited in the queue: until a member answered, "
                                                   "else until they left."},
        "caller_name": {"type": "string", "maxLength": 80,
                        "description": "The caller-ID name the network sent (plain text, control characters "
                                       "removed); empty when none."},
        "caller_presentation": {"enum": ["", "allowed", "restricted", "anonymous"],
                                "description": "`restricted`: the caller hid the number; `anonymous`: no number "
                                               "at all. Neither ever creates a contact."},
        "closed_by": {"enum": ["pbx", "resync", "timeout", None],
                      "description": "Who closed the record: `pbx` (Asterisk reported the end); `resync` (after a "
                                     "reconnect Asterisk no longer had the call) or `timeout` (open too long): the "
                                     "end was not seen, the outcome is `answered` if someone had picked up, else "
                                     "`lost`. null while the call is in progress."},
        "recovered": {"type": "boolean",
                      "description": "true when the record was built, or completed, from Asterisk's own CDR after "
                                     "perezvon had been stopped or cut off from the AMI (the call was not seen live, "
                                     "or not to its end); `hung_up_by` is then null: CDR does not say."},
        "task_id": nullable("integer", description="The task a click-to-call was placed from."),
        "disposition": nullable("string", description="The operator's call result: a code of "
                                                      "`GET /api/v1/call-dispositions`; null until given."),
        "recording_state": {"enum": ["none", "pending", "registered", "missing", "corrupt"],
                            "description": "Where the call's recording stands: `pending` (awaited after the call), "
                                           "`registered`, `missing` (answered, none arrived in time), `corrupt` "
                                           "(the file holds no readable audio), `none` (none expected)."},
        "recordings": {"type": "array", "items": ref("CallRecording"),
                       "description": "Playable recordings; the audio is `GET /recordings/{id}` (a WAV, range "
                                      "requests supported) for whoever may see the call."},
        "route": {"oneOf": [ref("CallRoute"), {"type": "null"}],
                  "description": "Why routing sent the call where it went; null when routing never saw it "
                                 "(outbound, internal, older calls)."},
    }
    transfer: dict[str, Schema] = {
        "seq": {"type": "integer", "minimum": 1}, "at": date_time(), "kind": {"enum": ["blind", "attended"]},
        "from_extension": text, "target": {"type": "string", "description": "What was dialled."},
        "taken_by": {"type": "string", "description": "Who took the call; empty when nobody did."},
        "result": {"enum": ["completed", "busy", "no_answer", "failed", "abandoned"]},
    }
    route: dict[str, Schema] = {
        "reason": {"type": "string", "pattern": "^[a-z_]{1,32}$",
                   "description": "The policy step that decided, e.g. `urgent_order`, `responsible_manager`, "
                                  "`after_hours`, `default_queue`."},
        "targets": {"type": "string", "description": "What the PBX was told to dial, e.g. `PJSIP/101&PJSIP/102`; "
                                                     "empty when the call went straight to the fallback."},
        "explanation": {"type": "string", "description": "One line per routing step the call passed."},
        "routed_at": nullable("string", format="date-time"),
    }
    originate_request: dict[str, Schema] = {
        "phone": {"type": "string", "maxLength": 64, "description": "The number to call, any format."},
        "task_id": nullable("integer", minimum=1, description="The task the call is made for (a callback)."),
        "order_id": nullable("integer", minimum=1, description="The order the call is about."),
    }
    accepted: dict[str, Schema] = {
        "call_id": {"type": "string", "description": "The call's `linkedid` in `GET /api/v1/calls`."},
        "extension": text, "phone": {"type": "string", "description": "The number dialled, E.164."},
        "state": {"enum": ["ringing_you"]},
    }
    result_input: dict[str, Schema] = {
        "disposition": nullable("string", pattern="^[a-z][a-z0-9_]{0,31}$"),
        "note": nullable("string", maxLength=5000),
        "task": {"oneOf": [ref("FollowUpInput"), {"type": "null"}]},
    }
    follow_up: dict[str, Schema] = {
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "due_at": nullable("string", format="date-time"), "kind": {"enum": ["callback", "follow_up"]},
    }
    recorded: dict[str, Schema] = {"disposition": nullable("string"), "note_id": nullable("integer"),
                                   "task_id": nullable("integer")}
    disposition: dict[str, Schema] = {"code": text, "title_ru": text, "title_en": text}
    recording: dict[str, Schema] = {
        "id": id_schema(), "kind": {"enum": ["mixed", "operator", "customer", "stereo"]},
        "duration_s": {"type": "number", "minimum": 0}, "keep": {"type": "boolean"},
        "state": {"enum": ["stored", "archived"]},
    }
    return {
        "CallResultInput": obj(result_input, ()),
        "FollowUpInput": obj(follow_up, ("title",)),
        "CallResultRecorded": obj(recorded, tuple(recorded)),
        "CallDisposition": obj(disposition, tuple(disposition)),
        "CallDispositionList": obj({"items": {"type": "array", "items": ref("CallDisposition")}}, ("items",)),
        "OriginateRequest": obj(originate_request, ()),
        "OriginateAccepted": obj(accepted, tuple(accepted)),
        "CallLeg": obj(leg, tuple(leg)),
        "Call": obj(call, tuple(call)),
        "CallRoute": obj(route, tuple(route)),
        "CallTransfer": obj(transfer, tuple(transfer)),
        "CallRecording": obj(recording, tuple(recording)),
        "CallPage": obj({"items": {"type": "array", "items": ref("Call")}, "has_more": {"type": "boolean"},
                         "limit": {"type": "integer"}, "offset": {"type": "integer"}},
                        ("items", "has_more", "limit", "offset")),
    }
