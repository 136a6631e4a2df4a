/// The API listener's OpenAPI 3.1 document, served at `GET /openapi.json`. Kept by hand beside
/// `FleetRoutes`/`APIRoutes`; the schemathesis run in CI checks the collector against it.
enum OpenAPIDocument {
    static let json = #"""
        {
          "openapi": "3.1.0",
          "info": {
            "title": "Posture collector API",
            "version": "0.7.0",
            "summary": "Signed verdicts, Shared Signals and the fleet operators' API.",
            "description": "Bearer API token or API client certificate; scope `admin` grants every scope."
          },
          "servers": [{"url": "/"}],
          "tags": [
            {"name": "fleet", "description": "The device list, fleet summary and security events."},
            {"name": "devices", "description": "One device in detail."},
            {"name": "actions", "description": "Quarantine, release, revoke; waivers."},
            {"name": "tokens", "description": "Enrollment tokens and API tokens."},
            {"name": "audit", "description": "The operator actions' hash chain."},
            {"name": "verdicts", "description": "Signed verdicts and their keys."},
            {"name": "ssf", "description": "Shared Signals transmitter: discovery, streams, status, verification, poll."},
            {"name": "metrics", "description": "Health, metrics, this document."}
          ],
          "security": [{"bearerAuth": []}],
          "paths": {
            "/openapi.json": {
              "get": {
                "operationId": "getOpenAPIDocument",
                "tags": ["metrics"],
                "summary": "This document",
                "description": "No authentication.",
                "security": [],
                "responses": {
                  "200": {
                    "description": "The OpenAPI 3.1 document.",
                    "content": {"application/json": {"schema": {"type": "object"}}}
                  }
                }
              }
            },
            "/healthz": {
              "get": {
                "operationId": "getHealth",
                "tags": ["metrics"],
                "summary": "Liveness",
                "description": "No authentication. Answers `ok`.",
                "security": [],
                "responses": {
                  "200": {
                    "description": "The collector is serving.",
                    "content": {"text/plain": {"schema": {"type": "string", "const": "ok\n"}}}
                  }
                }
              }
            },
            "/readyz": {
              "get": {
                "operationId": "getReadiness",
                "tags": ["metrics"],
                "summary": "Readiness",
                "description": "No authentication; on every listener. 200 when the store takes a write, the verdicts are loaded and the signing keys present; 503 naming each check that is not `ok`. Cached for a second.",
                "security": [],
                "responses": {
                  "200": {
                    "description": "Ready to serve.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Readiness"}}}
                  },
                  "503": {
                    "description": "Not ready; `checks` says what and why.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Readiness"}}}
                  }
                }
              }
            },
            "/metrics": {
              "get": {
                "operationId": "getMetrics",
                "tags": ["metrics"],
                "summary": "Prometheus metrics",
                "description": "Scope `metrics:read` (or `admin`). Text format 0.0.4 (`text/plain; version=0.0.4`).",
                "responses": {
                  "200": {"description": "The metrics.", "content": {"text/plain": {"schema": {"type": "string"}}}},
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              }
            },
            "/.well-known/jwks.json": {
              "get": {
                "operationId": "getJWKS",
                "tags": ["verdicts"],
                "summary": "Verdict and SET signing keys",
                "description": "No authentication. ES256 signs verdict JWTs; RS256 (or ES256) signs SETs.",
                "security": [],
                "responses": {
                  "200": {
                    "description": "The JWK set.",
                    "content": {"application/jwk-set+json": {"schema": {"$ref": "#/components/schemas/JWKSet"}}}
                  }
                }
              }
            },
            "/.well-known/ssf-configuration": {
              "get": {
                "operationId": "getSSFConfiguration",
                "tags": ["ssf"],
                "summary": "Shared Signals transmitter metadata",
                "description": "No authentication.",
                "security": [],
                "responses": {
                  "200": {
                    "description": "The transmitter's configuration.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SSFConfiguration"}}}
                  }
                }
              }
            },
            "/v1/devices/{id}/verdict": {
              "get": {
                "operationId": "getVerdict",
                "tags": ["verdicts"],
                "summary": "A device's signed verdict",
                "description": "Scope `verdict:read` (or `admin`). JSON and JWT, with an ETag; 304 and long-poll.",
                "parameters": [
                  {"$ref": "#/components/parameters/DeviceLookup"},
                  {
                    "name": "wait",
                    "in": "query",
                    "description": "With `If-None-Match`: wait this long for a change (validated even without).",
                    "schema": {"$ref": "#/components/schemas/WaitDuration"}
                  },
                  {
                    "name": "If-None-Match",
                    "in": "header",
                    "required": false,
                    "schema": {"type": "string"},
                    "description": "The ETag of the verdict held (`\"…\"` or `W/\"…\"`)."
                  }
                ],
                "responses": {
                  "200": {
                    "description": "The current verdict.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/VerdictResponse"}}},
                    "headers": {
                      "ETag": {"$ref": "#/components/headers/ETag"},
                      "Cache-Control": {"schema": {"type": "string", "const": "no-store"}, "required": true}
                    }
                  },
                  "304": {
                    "description": "The verdict is still the one `If-None-Match` names.",
                    "headers": {"ETag": {"$ref": "#/components/headers/ETag"}}
                  },
                  "400": {"$ref": "#/components/responses/BadRequest"},
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "404": {"$ref": "#/components/responses/NotFound"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              }
            },
            "/ssf/streams": {
              "get": {
                "operationId": "getStreams",
                "tags": ["ssf"],
                "summary": "This token's streams, or one of them",
                "description": "Scope `ssf:manage` (or `admin`). Only the streams this token created.",
                "parameters": [
                  {
                    "name": "stream_id",
                    "in": "query",
                    "description": "One stream's ID (404 unless this token created it).",
                    "schema": {"type": "string", "minLength": 1}
                  }
                ],
                "responses": {
                  "200": {
                    "description": "One stream, or the list.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "anyOf": [
                            {"$ref": "#/components/schemas/StreamConfiguration"},
                            {"type": "array", "items": {"$ref": "#/components/schemas/StreamConfiguration"}}
                          ]
                        }
                      }
                    }
                  },
                  "400": {"$ref": "#/components/responses/BadRequest"},
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "404": {"$ref": "#/components/responses/NotFound"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              },
              "post": {
                "operationId": "createStream",
                "tags": ["ssf"],
                "summary": "Create a Shared Signals stream",
                "description": "Scope `ssf:manage` (or `admin`). Push (RFC 8935) or poll (RFC 8936). Body max 64 KiB.",
                "requestBody": {
                  "required": true,
                  "description": "The stream's configuration.",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StreamConfigurationRequest"}}}
                },
                "responses": {
                  "201": {
                    "description": "The stream created.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StreamConfiguration"}}}
                  },
                  "400": {"$ref": "#/components/responses/BadRequest"},
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              },
              "patch": {
                "operationId": "updateStream",
                "tags": ["ssf"],
                "summary": "Update a stream (SSF 1.0 §8.1.1.3)",
                "description": "Scope `ssf:manage` (or `admin`), or an OAuth access token of `ssf.accessTokens`. Members left out stay; transmitter-supplied members may be sent back only as they are. Body max 64 KiB.",
                "requestBody": {
                  "required": true,
                  "description": "`stream_id` and the members to change.",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StreamChangeRequest"}}}
                },
                "responses": {
                  "200": {
                    "description": "The whole stream, updated.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StreamConfiguration"}}}
                  },
                  "400": {"$ref": "#/components/responses/BadRequest"},
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "404": {"$ref": "#/components/responses/NotFound"},
                  "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              },
              "put": {
                "operationId": "replaceStream",
                "tags": ["ssf"],
                "summary": "Replace a stream's configuration (SSF 1.0 §8.1.1.4)",
                "description": "As PATCH, but receiver-supplied members left out take their defaults.",
                "requestBody": {
                  "required": true,
                  "description": "`stream_id` and every receiver-supplied member.",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StreamChangeRequest"}}}
                },
                "responses": {
                  "200": {
                    "description": "The whole stream, replaced.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StreamConfiguration"}}}
                  },
                  "400": {"$ref": "#/components/responses/BadRequest"},
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "404": {"$ref": "#/components/responses/NotFound"},
                  "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              },
              "delete": {
                "operationId": "deleteStream",
                "tags": ["ssf"],
                "summary": "Delete a stream",
                "description": "Scope `ssf:manage` (or `admin`). Only the token that created it can.",
                "parameters": [
                  {
                    "name": "stream_id",
                    "in": "query",
                    "description": "The stream's ID.",
                    "schema": {"type": "string", "minLength": 1},
                    "required": true
                  }
                ],
                "responses": {
                  "204": {"description": "Deleted."},
                  "400": {"$ref": "#/components/responses/BadRequest"},
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "404": {"$ref": "#/components/responses/NotFound"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              }
            },
            "/ssf/status": {
              "get": {
                "operationId": "getStreamStatus",
                "tags": ["ssf"],
                "summary": "A stream's status",
                "description": "Scope `ssf:manage` (or `admin`). Only the token that created it can read it.",
                "parameters": [
                  {
                    "name": "stream_id",
                    "in": "query",
                    "description": "The stream's ID.",
                    "schema": {"type": "string", "minLength": 1},
                    "required": true
                  }
                ],
                "responses": {
                  "200": {
                    "description": "The stream's status.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StreamStatus"}}}
                  },
                  "400": {"$ref": "#/components/responses/BadRequest"},
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "404": {"$ref": "#/components/responses/NotFound"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              },
              "post": {
                "operationId": "setStreamStatus",
                "tags": ["ssf"],
                "summary": "Enable, pause or disable a stream (SSF 1.0 §8.1.2.2)",
                "description": "A paused stream's events are held and delivered once it is enabled again; a disabled stream gets none. Body max 16 KiB.",
                "requestBody": {
                  "required": true,
                  "description": "The new status and why.",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StreamStatus"}}}
                },
                "responses": {
                  "200": {
                    "description": "The stream's status now.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StreamStatus"}}}
                  },
                  "400": {"$ref": "#/components/responses/BadRequest"},
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "404": {"$ref": "#/components/responses/NotFound"},
                  "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              }
            },
            "/ssf/verify": {
              "post": {
                "operationId": "verifyStream",
                "tags": ["ssf"],
                "summary": "Ask for a verification event (SSF 1.0 §8.1.4.2)",
                "description": "The event, with `state` echoed, is delivered on the stream like any other; at most one request per `min_verification_interval` (429 otherwise). Refused (409) while the stream is disabled. Body max 16 KiB.",
                "requestBody": {
                  "required": true,
                  "description": "The stream and the state to echo.",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/VerificationRequest"}}}
                },
                "responses": {
                  "204": {"description": "The verification event is queued."},
                  "400": {"$ref": "#/components/responses/BadRequest"},
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "404": {"$ref": "#/components/responses/NotFound"},
                  "409": {"$ref": "#/components/responses/Conflict"},
                  "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                  "429": {"$ref": "#/components/responses/Overloaded"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              }
            },
            "/ssf/poll/{id}": {
              "post": {
                "operationId": "pollStream",
                "tags": ["ssf"],
                "summary": "Poll a stream for SETs (RFC 8936)",
                "description": "Scope `ssf:manage` (or `admin`). Only this token's poll streams. Body max 1 MiB.",
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "schema": {"type": "string"},
                    "description": "The stream's ID."
                  }
                ],
                "requestBody": {
                  "required": true,
                  "description": "Acknowledgements and how many SETs to return.",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PollRequest"}}}
                },
                "responses": {
                  "200": {
                    "description": "Pending SETs; unless `returnImmediately`, after up to 30s of waiting for one.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PollResponse"}}}
                  },
                  "400": {"$ref": "#/components/responses/BadRequest"},
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "404": {"$ref": "#/components/responses/NotFound"},
                  "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              }
            },
            "/v1/devices": {
              "get": {
                "operationId": "listDevices",
                "tags": ["fleet"],
                "summary": "List devices",
                "description": "Scope `fleet:read` (or `admin`). Filtered, sorted, paged; empty values count as absent.",
                "parameters": [
                  {
                    "name": "verdict",
                    "in": "query",
                    "description": "Only devices with this verdict; `none`: not evaluated yet.",
                    "schema": {"type": "string", "enum": ["", "compliant", "noncompliant", "unknown", "none"]}
                  },
                  {
                    "name": "failing_rule",
                    "in": "query",
                    "description": "Only devices failing this rule.",
                    "schema": {"type": "string"}
                  },
                  {
                    "name": "label",
                    "in": "query",
                    "description": "`key=value`: only devices with this label.",
                    "schema": {"type": "string", "pattern": "^$|^[^=]+="}
                  },
                  {
                    "name": "os",
                    "in": "query",
                    "description": "os-release `ID` of the newest report, e.g. `debian`.",
                    "schema": {"type": "string"}
                  },
                  {
                    "name": "os_version",
                    "in": "query",
                    "description": "os-release `VERSION_ID` of the newest report, e.g. `12`.",
                    "schema": {"type": "string"}
                  },
                  {
                    "name": "hostname",
                    "in": "query",
                    "description": "A case-insensitive part of the hostname.",
                    "schema": {"type": "string"}
                  },
                  {
                    "name": "seen_before",
                    "in": "query",
                    "description": "Last report before this time or duration ago; never seen counts as before.",
                    "schema": {
                      "anyOf": [
                        {"type": "string", "maxLength": 0},
                        {"anyOf": [{"$ref": "#/components/schemas/DurationAgo"}, {"$ref": "#/components/schemas/Time"}]}
                      ]
                    }
                  },
                  {
                    "name": "seen_after",
                    "in": "query",
                    "description": "Last report at or after this time or duration ago.",
                    "schema": {
                      "anyOf": [
                        {"type": "string", "maxLength": 0},
                        {"anyOf": [{"$ref": "#/components/schemas/DurationAgo"}, {"$ref": "#/components/schemas/Time"}]}
                      ]
                    }
                  },
                  {
                    "name": "state",
                    "in": "query",
                    "description": "Enrollment state (default `active`).",
                    "schema": {"type": "string", "enum": ["", "active", "revoked", "replaced", "all"]}
                  },
                  {
                    "name": "sort",
                    "in": "query",
                    "description": "Sort key (default `hostname`).",
                    "schema": {"type": "string", "enum": ["", "hostname", "last_seen", "enrolled", "verdict_since"]}
                  },
                  {
                    "name": "order",
                    "in": "query",
                    "description": "Sort order (default `asc`).",
                    "schema": {"type": "string", "enum": ["", "asc", "desc"]}
                  },
                  {
                    "name": "limit",
                    "in": "query",
                    "description": "Page size.",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}
                  },
                  {
                    "name": "cursor",
                    "in": "query",
                    "description": "The previous page's `nextCursor`: opaque, bound to `sort` and `order`.",
                    "schema": {"type": "string"}
                  }
                ],
                "responses": {
                  "200": {
                    "description": "A page of devices.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FleetPage"}}}
                  },
                  "400": {"$ref": "#/components/responses/BadRequest"},
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              }
            },
            "/v1/fleet/summary": {
              "get": {
                "operationId": "getFleetSummary",
                "tags": ["fleet"],
                "summary": "Fleet counts and trend",
                "description": "Scope `fleet:read` (or `admin`). Active devices by verdict, rule, OS; 14-day trend.",
                "responses": {
                  "200": {
                    "description": "The summary.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FleetSummary"}}}
                  },
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              }
            },
            "/v1/devices/{id}": {
              "get": {
                "operationId": "getDevice",
                "tags": ["devices"],
                "summary": "One device in detail",
                "description": "Scope `fleet:read` (or `admin`). Verdict, newest report, history, events, certificates.",
                "parameters": [
                  {"$ref": "#/components/parameters/DeviceLookup"},
                  {
                    "name": "attestations",
                    "in": "query",
                    "description": "How many of the newest attestations to include.",
                    "schema": {"type": "integer", "minimum": 0, "maximum": 50, "default": 20}
                  }
                ],
                "responses": {
                  "200": {
                    "description": "The device.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DeviceDetail"}}}
                  },
                  "400": {"$ref": "#/components/responses/BadRequest"},
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "404": {"$ref": "#/components/responses/NotFound"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              }
            },
            "/v1/events": {
              "get": {
                "operationId": "listEvents",
                "tags": ["fleet"],
                "summary": "Security events",
                "description": "Scope `fleet:read` (or `admin`). Refusals, enforcement reports and more, newest first.",
                "parameters": [
                  {
                    "name": "device",
                    "in": "query",
                    "description": "Only events of this device ID.",
                    "schema": {"type": "string"}
                  },
                  {
                    "name": "code",
                    "in": "query",
                    "description": "A code, or a prefix ending in `.` or `*` (e.g. `enforcement.`).",
                    "schema": {"type": "string"}
                  },
                  {
                    "name": "before",
                    "in": "query",
                    "description": "Only events older than this ID: the previous page's `nextBefore`.",
                    "schema": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 9223372036854775807}
                  },
                  {
                    "name": "limit",
                    "in": "query",
                    "description": "Page size.",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}
                  }
                ],
                "responses": {
                  "200": {
                    "description": "A page of events.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EventPage"}}}
                  },
                  "400": {"$ref": "#/components/responses/BadRequest"},
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              }
            },
            "/v1/devices/{id}/quarantine": {
              "post": {
                "operationId": "quarantineDevice",
                "tags": ["actions"],
                "summary": "Quarantine a device",
                "description": "Scope `fleet:write` (or `admin`). Noncompliant until released; audited. Body max 16 KiB.",
                "parameters": [{"$ref": "#/components/parameters/DeviceLookup"}],
                "requestBody": {
                  "required": true,
                  "description": "Why.",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ReasonRequest"}}}
                },
                "responses": {
                  "200": {
                    "description": "The device after the action (without attestations).",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DeviceDetail"}}}
                  },
                  "400": {"$ref": "#/components/responses/BadRequest"},
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "404": {"$ref": "#/components/responses/NotFound"},
                  "409": {"$ref": "#/components/responses/Conflict"},
                  "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              }
            },
            "/v1/devices/{id}/release": {
              "post": {
                "operationId": "releaseDevice",
                "tags": ["actions"],
                "summary": "Release a device from quarantine",
                "description": "Scope `fleet:write` (or `admin`). Verdict evaluated again; audited. Body max 16 KiB.",
                "parameters": [{"$ref": "#/components/parameters/DeviceLookup"}],
                "requestBody": {
                  "required": true,
                  "description": "Why.",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ReasonRequest"}}}
                },
                "responses": {
                  "200": {
                    "description": "The device after the action (without attestations).",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DeviceDetail"}}}
                  },
                  "400": {"$ref": "#/components/responses/BadRequest"},
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "404": {"$ref": "#/components/responses/NotFound"},
                  "409": {"$ref": "#/components/responses/Conflict"},
                  "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              }
            },
            "/v1/devices/{id}/revoke": {
              "post": {
                "operationId": "revokeDevice",
                "tags": ["actions"],
                "summary": "Revoke a device",
                "description": "Scope `fleet:write` (or `admin`). It can no longer attest; audited. Body max 16 KiB.",
                "parameters": [{"$ref": "#/components/parameters/DeviceLookup"}],
                "requestBody": {
                  "required": true,
                  "description": "Why.",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ReasonRequest"}}}
                },
                "responses": {
                  "200": {
                    "description": "The device after the action (without attestations).",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DeviceDetail"}}}
                  },
                  "400": {"$ref": "#/components/responses/BadRequest"},
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "404": {"$ref": "#/components/responses/NotFound"},
                  "409": {"$ref": "#/components/responses/Conflict"},
                  "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              }
            },
            "/v1/ssf/streams": {
              "get": {
                "operationId": "listAllStreams",
                "tags": ["ssf"],
                "summary": "Every receiver's Shared Signals stream",
                "description": "Scope `fleet:read` (or `admin`): the transmitter's view, whoever manages each stream.",
                "responses": {
                  "200": {
                    "description": "The streams, oldest first.",
                    "content": {
                      "application/json": {
                        "schema": {"type": "array", "items": {"$ref": "#/components/schemas/OperatorStream"}}
                      }
                    }
                  },
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              }
            },
            "/v1/ssf/streams/{id}/status": {
              "post": {
                "operationId": "setStreamStatusAsTransmitter",
                "tags": ["ssf"],
                "summary": "Enable, pause or disable a receiver's stream",
                "description": "Scope `fleet:write` (or `admin`). The receiver is told by a stream-updated SET (SSF 1.0 §8.1.5), delivered before a pause or disable takes effect; audited. Body max 16 KiB.",
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "schema": {"type": "string"},
                    "description": "The stream's ID."
                  }
                ],
                "requestBody": {
                  "required": true,
                  "description": "The status, and why (told to the receiver).",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OperatorStreamStatus"}}}
                },
                "responses": {
                  "200": {
                    "description": "The stream now.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OperatorStream"}}}
                  },
                  "400": {"$ref": "#/components/responses/BadRequest"},
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "404": {"$ref": "#/components/responses/NotFound"},
                  "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              }
            },
            "/v1/waivers": {
              "get": {
                "operationId": "listWaivers",
                "tags": ["actions"],
                "summary": "List waivers",
                "description": "Scope `fleet:read` (or `admin`). Every waiver, active, expired or revoked, oldest first.",
                "responses": {
                  "200": {
                    "description": "The waivers.",
                    "content": {
                      "application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Waiver"}}}
                    }
                  },
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              },
              "post": {
                "operationId": "createWaiver",
                "tags": ["actions"],
                "summary": "Create a waiver",
                "description": "Scope `fleet:write` (or `admin`). For a device or a label, for a while. Body max 16 KiB.",
                "requestBody": {
                  "required": true,
                  "description": "The rule, whom it covers, how long, why.",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/WaiverRequest"}}}
                },
                "responses": {
                  "201": {
                    "description": "The waiver created.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Waiver"}}}
                  },
                  "400": {"$ref": "#/components/responses/BadRequest"},
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "404": {"$ref": "#/components/responses/NotFound"},
                  "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              }
            },
            "/v1/waivers/{id}/revoke": {
              "post": {
                "operationId": "revokeWaiver",
                "tags": ["actions"],
                "summary": "Revoke a waiver",
                "description": "Scope `fleet:write` (or `admin`). Only an unrevoked one (else 404). Body max 16 KiB.",
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "schema": {"type": "string"},
                    "description": "The waiver's ID."
                  }
                ],
                "requestBody": {
                  "required": true,
                  "description": "Why.",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ReasonRequest"}}}
                },
                "responses": {
                  "200": {
                    "description": "The waiver, revoked.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Waiver"}}}
                  },
                  "400": {"$ref": "#/components/responses/BadRequest"},
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "404": {"$ref": "#/components/responses/NotFound"},
                  "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              }
            },
            "/v1/enrollment-tokens": {
              "get": {
                "operationId": "listEnrollmentTokens",
                "tags": ["tokens"],
                "summary": "List enrollment tokens",
                "description": "Scope `admin`. Oldest first.",
                "responses": {
                  "200": {
                    "description": "The enrollment tokens.",
                    "content": {
                      "application/json": {
                        "schema": {"type": "array", "items": {"$ref": "#/components/schemas/EnrollmentToken"}}
                      }
                    }
                  },
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              },
              "post": {
                "operationId": "createEnrollmentToken",
                "tags": ["tokens"],
                "summary": "Create an enrollment token",
                "description": "Scope `admin`. The token is shown once. Body max 16 KiB.",
                "requestBody": {
                  "required": true,
                  "description": "The token's options.",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EnrollmentTokenRequest"}}}
                },
                "responses": {
                  "201": {
                    "description": "The token created.",
                    "content": {
                      "application/json": {
                        "schema": {"allOf": [{"$ref": "#/components/schemas/CreatedSecret"}, {"required": ["expiresAt"]}]}
                      }
                    }
                  },
                  "400": {"$ref": "#/components/responses/BadRequest"},
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              }
            },
            "/v1/api-tokens": {
              "get": {
                "operationId": "listAPITokens",
                "tags": ["tokens"],
                "summary": "List API tokens",
                "description": "Scope `admin`. Oldest first, revoked ones included.",
                "responses": {
                  "200": {
                    "description": "The API tokens.",
                    "content": {
                      "application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/APIToken"}}}
                    }
                  },
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              },
              "post": {
                "operationId": "createAPIToken",
                "tags": ["tokens"],
                "summary": "Create an API token",
                "description": "Scope `admin`. The token is shown once. Names are unique among active API credentials, compared case-insensitively (the name is the actor in the audit trail): a taken one is 409. Body max 16 KiB.",
                "requestBody": {
                  "required": true,
                  "description": "Its name, scopes and lifetime.",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/APITokenRequest"}}}
                },
                "responses": {
                  "201": {
                    "description": "The token created.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CreatedSecret"}}}
                  },
                  "400": {"$ref": "#/components/responses/BadRequest"},
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "409": {"$ref": "#/components/responses/Conflict"},
                  "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              }
            },
            "/v1/api-tokens/{id}/revoke": {
              "post": {
                "operationId": "revokeAPIToken",
                "tags": ["tokens"],
                "summary": "Revoke an API token",
                "description": "Scope `admin`. Only an unrevoked one (else 404). Body max 16 KiB.",
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "schema": {"type": "string"},
                    "description": "The API token's ID."
                  }
                ],
                "requestBody": {
                  "required": true,
                  "description": "Why.",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ReasonRequest"}}}
                },
                "responses": {
                  "200": {
                    "description": "The token, revoked.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/APIToken"}}}
                  },
                  "400": {"$ref": "#/components/responses/BadRequest"},
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "404": {"$ref": "#/components/responses/NotFound"},
                  "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              }
            },
            "/v1/audit/verify": {
              "get": {
                "operationId": "verifyAuditTrail",
                "tags": ["audit"],
                "summary": "Verify the audit trail",
                "description": "Scope `fleet:read` (or `admin`). Recomputes the hash chain of operator actions.",
                "parameters": [
                  {
                    "name": "expect_head",
                    "in": "query",
                    "description": "A head noted earlier: also reports entries added or removed since.",
                    "schema": {"type": "string"}
                  }
                ],
                "responses": {
                  "200": {
                    "description": "The result.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AuditReport"}}}
                  },
                  "401": {"$ref": "#/components/responses/Unauthorized"},
                  "403": {"$ref": "#/components/responses/Forbidden"},
                  "500": {"$ref": "#/components/responses/InternalError"}
                }
              }
            }
          },
          "components": {
            "securitySchemes": {
              "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API token. An API client certificate (TLS) also authenticates."
              }
            },
            "parameters": {
              "DeviceLookup": {
                "name": "id",
                "in": "path",
                "required": true,
                "schema": {"type": "string", "minLength": 1},
                "description": "A device ID, `hostname:NAME`, `machine-id:HEX` or `sha256:HEX`."
              }
            },
            "headers": {
              "ETag": {
                "description": "The verdict's version, quoted: send it back as `If-None-Match`.",
                "required": true,
                "schema": {"type": "string"}
              }
            },
            "responses": {
              "BadRequest": {
                "description": "A query parameter or the body is not what the operation takes (`malformed_request`).",
                "content": {
                  "application/problem+json": {
                    "schema": {
                      "allOf": [
                        {"$ref": "#/components/schemas/Error"},
                        {"properties": {"error": {"const": "malformed_request"}}}
                      ]
                    }
                  }
                }
              },
              "Unauthorized": {
                "description": "No credential, or an unknown, revoked or expired API token (`unauthorized`).",
                "content": {
                  "application/problem+json": {
                    "schema": {
                      "allOf": [
                        {"$ref": "#/components/schemas/Error"},
                        {"properties": {"error": {"const": "unauthorized"}}}
                      ]
                    }
                  }
                }
              },
              "Forbidden": {
                "description": "The credential lacks the operation's scope (`insufficient_scope`).",
                "content": {
                  "application/problem+json": {
                    "schema": {
                      "allOf": [
                        {"$ref": "#/components/schemas/Error"},
                        {"properties": {"error": {"const": "insufficient_scope"}}}
                      ]
                    }
                  }
                }
              },
              "NotFound": {
                "description": "No such device, waiver, token or stream (`not_found`).",
                "content": {
                  "application/problem+json": {
                    "schema": {
                      "allOf": [{"$ref": "#/components/schemas/Error"}, {"properties": {"error": {"const": "not_found"}}}]
                    }
                  }
                }
              },
              "Conflict": {
                "description": "The action does not apply as things are (`conflict`): the device is already in that state, revoked or replaced, or the name is taken.",
                "content": {
                  "application/problem+json": {
                    "schema": {
                      "allOf": [{"$ref": "#/components/schemas/Error"}, {"properties": {"error": {"const": "conflict"}}}]
                    }
                  }
                }
              },
              "Overloaded": {
                "description": "Too soon or too much (`overloaded`): wait `Retry-After` seconds, with jitter.",
                "headers": {"Retry-After": {"schema": {"type": "integer"}, "required": true}},
                "content": {
                  "application/problem+json": {
                    "schema": {
                      "allOf": [{"$ref": "#/components/schemas/Error"}, {"properties": {"error": {"const": "overloaded"}}}]
                    }
                  }
                }
              },
              "PayloadTooLarge": {
                "description": "The body exceeds the operation's limit (`payload_too_large`).",
                "content": {
                  "application/problem+json": {
                    "schema": {
                      "allOf": [
                        {"$ref": "#/components/schemas/Error"},
                        {"properties": {"error": {"const": "payload_too_large"}}}
                      ]
                    }
                  }
                }
              },
              "InternalError": {
                "description": "The collector failed (`internal_error`); should not happen.",
                "content": {
                  "application/problem+json": {
                    "schema": {
                      "allOf": [
                        {"$ref": "#/components/schemas/Error"},
                        {"properties": {"error": {"const": "internal_error"}}}
                      ]
                    }
                  }
                }
              }
            },
            "schemas": {
              "Readiness": {
                "type": "object",
                "required": ["ready", "checks"],
                "properties": {
                  "ready": {"type": "boolean"},
                  "checks": {"type": "object", "additionalProperties": {"type": "string"}}
                }
              },
              "Time": {
                "type": "string",
                "description": "An RFC 3339 UTC time, e.g. `2026-11-25T08:00:00Z`.",
                "pattern": "^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$"
              },
              "DurationAgo": {
                "type": "string",
                "description": "A duration ago, e.g. `24h`, `7d`.",
                "pattern": "^(0|[1-9][0-9]{0,8})(ms|s|m|h|d)$"
              },
              "WaitDuration": {
                "type": "string",
                "description": "A duration up to 300s: digits then `ms`, `s` or `m`, e.g. `30s`.",
                "anyOf": [
                  {"pattern": "^(0|[1-9][0-9]{0,4})ms$"},
                  {"pattern": "^(0|[1-9][0-9]?|[12][0-9]{2}|300)s$"},
                  {"pattern": "^[0-5]m$"}
                ]
              },
              "WaiverDuration": {
                "type": "string",
                "description": "A duration from 1s to 90d: digits then `ms`, `s`, `m`, `h` or `d`, e.g. `4h`, `7d`.",
                "anyOf": [
                  {"pattern": "^[1-9][0-9]{0,5}s$"},
                  {"pattern": "^[1-9][0-9]{0,4}m$"},
                  {"pattern": "^[1-9][0-9]{0,2}h$"},
                  {"pattern": "^([1-9]|[1-8][0-9]|90)d$"}
                ]
              },
              "EnrollmentTTL": {
                "type": "string",
                "description": "A duration from 1s to 365d: digits then `ms`, `s`, `m`, `h` or `d`, e.g. `24h`.",
                "anyOf": [
                  {"pattern": "^[1-9][0-9]{0,6}s$"},
                  {"pattern": "^[1-9][0-9]{0,4}m$"},
                  {"pattern": "^[1-9][0-9]{0,2}h$"},
                  {"pattern": "^([1-9][0-9]?|[12][0-9]{2}|3[0-5][0-9]|36[0-5])d$"}
                ]
              },
              "APITokenTTL": {
                "type": "string",
                "description": "A positive duration, here up to 3650d: digits then `ms`, `s`, `m`, `h` or `d`.",
                "anyOf": [
                  {"pattern": "^[1-9][0-9]{0,7}s$"},
                  {"pattern": "^[1-9][0-9]{0,5}m$"},
                  {"pattern": "^[1-9][0-9]{0,3}h$"},
                  {"pattern": "^([1-9][0-9]{0,2}|[12][0-9]{3}|3[0-5][0-9]{2}|36[0-4][0-9]|3650)d$"}
                ]
              },
              "Error": {
                "type": "object",
                "description": "Every refusal, an RFC 9457 problem: a stable code (match on it, not on the words) in `type` and `error`, the cause and the fix in `detail` and `message`.",
                "required": ["type", "title", "status", "detail", "error", "message"],
                "properties": {
                  "type": {"type": "string", "description": "`urn:posture:problem:` and the code."},
                  "title": {"type": "string", "description": "The code in words; the same for every occurrence."},
                  "status": {"type": "integer", "description": "The HTTP status."},
                  "detail": {"type": "string", "description": "What went wrong and how to fix it."},
                  "error": {"type": "string", "description": "The refusal code, e.g. `not_found`."},
                  "message": {"type": "string", "description": "The same as `detail`."}
                }
              },
              "FleetDevice": {
                "type": "object",
                "description": "One row of the device list.",
                "required": ["id", "hostname", "machineID", "labels", "state", "enrolledAt", "failing", "quarantined"],
                "properties": {
                  "id": {"type": "string"},
                  "hostname": {"type": "string"},
                  "machineID": {"type": "string"},
                  "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                  "state": {"type": "string", "enum": ["active", "revoked", "replaced"]},
                  "enrolledAt": {"type": "string", "format": "date-time"},
                  "verdict": {
                    "type": "string",
                    "enum": ["compliant", "noncompliant", "unknown"],
                    "description": "Absent before the first evaluation."
                  },
                  "verdictSince": {"type": "string", "format": "date-time"},
                  "failing": {"type": "array", "items": {"type": "string"}, "description": "Failing rules, sorted."},
                  "quarantined": {"type": "boolean"},
                  "os": {"type": "string", "description": "os-release `ID` of the newest report."},
                  "osVersion": {"type": "string", "description": "os-release `VERSION_ID` of the newest report."},
                  "lastSeen": {
                    "type": "string",
                    "format": "date-time",
                    "description": "When the newest accepted report arrived."
                  }
                }
              },
              "FleetPage": {
                "type": "object",
                "required": ["devices"],
                "properties": {
                  "devices": {"type": "array", "items": {"$ref": "#/components/schemas/FleetDevice"}},
                  "nextCursor": {
                    "type": "string",
                    "description": "Pass as `cursor` (same `sort` and `order`) for the next page; absent on the last."
                  }
                }
              },
              "FleetSummary": {
                "type": "object",
                "description": "Counts over active devices.",
                "required": [
                  "devices",
                  "byVerdict",
                  "byFailingRule",
                  "byOS",
                  "quarantined",
                  "silent",
                  "trend",
                  "generatedAt"
                ],
                "properties": {
                  "devices": {"type": "integer", "minimum": 0},
                  "byVerdict": {
                    "type": "object",
                    "description": "Devices per verdict; `none` counts devices without a verdict yet.",
                    "propertyNames": {"enum": ["compliant", "noncompliant", "unknown", "none"]},
                    "additionalProperties": {"type": "integer", "minimum": 0}
                  },
                  "byFailingRule": {
                    "type": "array",
                    "items": {
                      "type": "object",
                      "required": ["key", "devices"],
                      "properties": {"key": {"type": "string"}, "devices": {"type": "integer", "minimum": 0}}
                    },
                    "description": "Most devices first, at most 50."
                  },
                  "byOS": {
                    "type": "array",
                    "items": {
                      "type": "object",
                      "required": ["key", "devices"],
                      "properties": {"key": {"type": "string"}, "devices": {"type": "integer", "minimum": 0}}
                    },
                    "description": "Keyed `ID VERSION_ID`, most devices first, at most 50."
                  },
                  "quarantined": {"type": "integer", "minimum": 0},
                  "silent": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Active devices without a report in the last 24 hours."
                  },
                  "trend": {
                    "type": "array",
                    "description": "Verdict changes per UTC day, oldest first, the last 14 days.",
                    "items": {
                      "type": "object",
                      "required": ["day", "becameNoncompliant", "becameCompliant"],
                      "properties": {
                        "day": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
                        "becameNoncompliant": {"type": "integer", "minimum": 0},
                        "becameCompliant": {"type": "integer", "minimum": 0}
                      }
                    }
                  },
                  "generatedAt": {"type": "string", "format": "date-time"}
                }
              },
              "SecurityEvent": {
                "type": "object",
                "description": "A refused attestation, an enforcement report (`enforcement.*`) or another security event.",
                "required": ["at", "code", "message"],
                "properties": {
                  "at": {"type": "string", "format": "date-time"},
                  "deviceID": {"type": "string"},
                  "code": {"type": "string"},
                  "message": {"type": "string"},
                  "peer": {"type": "string"},
                  "id": {
                    "type": "integer",
                    "format": "int64",
                    "description": "The event's row ID (present on every stored event): the cursor of event pages."
                  }
                }
              },
              "EventPage": {
                "type": "object",
                "required": ["events"],
                "properties": {
                  "events": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/SecurityEvent"},
                    "description": "Newest first."
                  },
                  "nextBefore": {
                    "type": "integer",
                    "format": "int64",
                    "description": "Pass as `before` for older events; absent when the page was not full."
                  }
                }
              },
              "RuleOutcome": {
                "type": "object",
                "required": ["rule", "severity", "state", "observed", "expected"],
                "properties": {
                  "rule": {"type": "string"},
                  "severity": {"type": "string", "enum": ["low", "medium", "high", "critical"]},
                  "state": {"type": "string", "enum": ["failing", "unavailable", "stale", "grace", "waived"]},
                  "observed": {"type": "string", "description": "What the report showed, e.g. `debian 11`."},
                  "expected": {"type": "string", "description": "What the rule wants, e.g. `debian >= 12`."},
                  "since": {"type": "string", "format": "date-time", "description": "When the rule started failing."},
                  "until": {"type": "string", "format": "date-time", "description": "When a grace period or waiver ends."},
                  "waiver": {"type": "string", "description": "The ID of the waiver that excuses it."}
                }
              },
              "Quarantine": {
                "type": "object",
                "required": ["by", "reason", "at"],
                "properties": {
                  "by": {"type": "string"},
                  "reason": {"type": "string"},
                  "at": {"type": "string", "format": "date-time"}
                }
              },
              "Verdict": {
                "type": "object",
                "description": "What the collector says about one device at one moment.",
                "required": [
                  "deviceID",
                  "status",
                  "failing",
                  "unknown",
                  "excused",
                  "risk",
                  "riskReasons",
                  "evaluatedAt",
                  "validUntil",
                  "policyVersion"
                ],
                "properties": {
                  "deviceID": {"type": "string"},
                  "status": {"type": "string", "enum": ["compliant", "noncompliant", "unknown"]},
                  "failing": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/RuleOutcome"},
                    "description": "Rules that fail now (grace over, not waived)."
                  },
                  "unknown": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/RuleOutcome"},
                    "description": "Rules whose facts are unavailable or stale."
                  },
                  "excused": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/RuleOutcome"},
                    "description": "Failing rules in their grace period, or waived."
                  },
                  "risk": {"type": "integer"},
                  "riskReasons": {"type": "array", "items": {"type": "string"}},
                  "quarantine": {"$ref": "#/components/schemas/Quarantine"},
                  "reportIssuedAt": {"type": "string", "format": "date-time"},
                  "evaluatedAt": {"type": "string", "format": "date-time"},
                  "validUntil": {
                    "type": "string",
                    "format": "date-time",
                    "description": "How long the verdict may be relied on: the JWT's `exp`."
                  },
                  "policyVersion": {"type": "string"},
                  "revision": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Counts the device's verdict changes: a verdict with a lower revision is older, whatever the clocks said (the JWT's `verdict_revision`)."
                  },
                  "reevaluateAt": {
                    "type": "string",
                    "format": "date-time",
                    "description": "When the verdict changes by itself (a report ages out, a waiver or grace period ends)."
                  }
                }
              },
              "VerdictResponse": {
                "type": "object",
                "required": ["verdict", "jwt"],
                "properties": {
                  "verdict": {"$ref": "#/components/schemas/Verdict"},
                  "jwt": {
                    "type": "string",
                    "description": "The verdict signed (ES256) as a compact JWT; keys at `/.well-known/jwks.json`."
                  }
                }
              },
              "Fact": {
                "description": "One posture fact: observed with its value, or unavailable with the reason.",
                "oneOf": [
                  {
                    "type": "object",
                    "required": ["status", "source", "value"],
                    "properties": {"status": {"const": "observed"}, "source": {"type": "string"}, "value": {}}
                  },
                  {
                    "type": "object",
                    "required": ["status", "source", "reason"],
                    "properties": {
                      "status": {"const": "unavailable"},
                      "source": {"type": "string"},
                      "reason": {"type": "string"}
                    }
                  }
                ]
              },
              "PostureReport": {
                "type": "object",
                "description": "The facts of the newest accepted report (schema: `Sources/PostureModel/SCHEMA.md`).",
                "required": [
                  "schemaVersion",
                  "collectedAt",
                  "agentVersion",
                  "os",
                  "diskEncryption",
                  "firewall",
                  "journal",
                  "secureBoot",
                  "kernelLockdown",
                  "securityModules",
                  "sshd"
                ],
                "properties": {
                  "schemaVersion": {"type": "integer"},
                  "collectedAt": {"type": "string", "format": "date-time"},
                  "agentVersion": {"type": "string"},
                  "os": {
                    "type": "object",
                    "required": [
                      "osRelease",
                      "kernelRelease",
                      "kernelVersion",
                      "architecture",
                      "machineID",
                      "bootID",
                      "uptimeSeconds",
                      "rebootRequired"
                    ],
                    "properties": {
                      "osRelease": {"$ref": "#/components/schemas/Fact"},
                      "kernelRelease": {"$ref": "#/components/schemas/Fact"},
                      "kernelVersion": {"$ref": "#/components/schemas/Fact"},
                      "architecture": {"$ref": "#/components/schemas/Fact"},
                      "machineID": {"$ref": "#/components/schemas/Fact"},
                      "bootID": {"$ref": "#/components/schemas/Fact"},
                      "uptimeSeconds": {"$ref": "#/components/schemas/Fact"},
                      "rebootRequired": {"$ref": "#/components/schemas/Fact"}
                    }
                  },
                  "diskEncryption": {"$ref": "#/components/schemas/Fact"},
                  "firewall": {
                    "type": "object",
                    "required": ["nftables", "iptablesLegacy", "inboundFiltered", "activeFrameworks"],
                    "properties": {
                      "nftables": {"$ref": "#/components/schemas/Fact"},
                      "iptablesLegacy": {"$ref": "#/components/schemas/Fact"},
                      "inboundFiltered": {"$ref": "#/components/schemas/Fact"},
                      "activeFrameworks": {"$ref": "#/components/schemas/Fact"}
                    }
                  },
                  "journal": {"$ref": "#/components/schemas/Fact"},
                  "secureBoot": {"$ref": "#/components/schemas/Fact"},
                  "kernelLockdown": {"$ref": "#/components/schemas/Fact"},
                  "securityModules": {"$ref": "#/components/schemas/Fact"},
                  "sshd": {"$ref": "#/components/schemas/Fact"}
                }
              },
              "StoredAttestation": {
                "type": "object",
                "required": ["deviceID", "sequence", "issuedAt", "receivedAt", "delivery", "jws"],
                "properties": {
                  "deviceID": {"type": "string"},
                  "sequence": {"type": "integer", "minimum": 0},
                  "issuedAt": {"type": "string", "format": "date-time"},
                  "receivedAt": {"type": "string", "format": "date-time"},
                  "delivery": {"type": "string", "description": "`fresh`, or `late` for a spooled backlog."},
                  "jws": {
                    "type": "string",
                    "description": "The compact JWS the device signed, to re-verify against the device certificate: the whole report (schema 1), or the envelope naming the report's parts by SHA-256 (schema 2, its header the canonical one for the device's key)."
                  },
                  "reportPart": {
                    "type": "string",
                    "description": "Schema 2: the report part as the device sent it; its base64url SHA-256 is the envelope's `report`."
                  },
                  "journalPart": {
                    "type": "string",
                    "description": "Schema 2: the journal part as the device sent it; its base64url SHA-256 is the envelope's `journal`."
                  }
                }
              },
              "DeviceDetail": {
                "type": "object",
                "description": "One device: its row, verdict, newest facts and history.",
                "required": ["device", "verdictChanges", "attestations", "enforcement", "refusals", "certificates"],
                "properties": {
                  "device": {"$ref": "#/components/schemas/FleetDevice"},
                  "verdict": {"$ref": "#/components/schemas/Verdict"},
                  "report": {"$ref": "#/components/schemas/PostureReport"},
                  "reportIssuedAt": {"type": "string", "format": "date-time"},
                  "verdictChanges": {
                    "type": "array",
                    "description": "Newest first, at most 100.",
                    "items": {
                      "type": "object",
                      "required": ["at", "status", "cause"],
                      "properties": {
                        "at": {"type": "string", "format": "date-time"},
                        "previousStatus": {"type": "string", "enum": ["compliant", "noncompliant", "unknown"]},
                        "status": {"type": "string", "enum": ["compliant", "noncompliant", "unknown"]},
                        "cause": {
                          "type": "string",
                          "description": "`attestation`, `policy <version>`, `quarantine by …`, `time`, …"
                        }
                      }
                    }
                  },
                  "attestations": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/StoredAttestation"},
                    "description": "Newest first."
                  },
                  "enforcement": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/SecurityEvent"},
                    "description": "What the agent reported doing (`enforcement.*` events), newest first."
                  },
                  "refusals": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/SecurityEvent"},
                    "description": "Refused attestations and other security events, newest first."
                  },
                  "certificates": {
                    "type": "array",
                    "items": {
                      "type": "object",
                      "required": ["serial", "notBefore", "notAfter"],
                      "properties": {
                        "serial": {"type": "string"},
                        "notBefore": {"type": "string", "format": "date-time"},
                        "notAfter": {"type": "string", "format": "date-time"}
                      }
                    }
                  }
                }
              },
              "Waiver": {
                "type": "object",
                "description": "An exception: `rule` does not count for a device or a label until `expiresAt`.",
                "required": ["id", "rule", "reason", "by", "createdAt", "expiresAt"],
                "properties": {
                  "id": {"type": "string"},
                  "rule": {"type": "string"},
                  "deviceID": {"type": "string", "description": "Present for a waiver of one device."},
                  "label": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "Present for a waiver of every device with this label."
                  },
                  "reason": {"type": "string"},
                  "by": {"type": "string", "description": "Who created it, e.g. `apitoken:NAME`."},
                  "createdAt": {"type": "string", "format": "date-time"},
                  "expiresAt": {"type": "string", "format": "date-time"},
                  "revokedAt": {"type": "string", "format": "date-time"}
                }
              },
              "AuditReport": {
                "type": "object",
                "required": ["intact", "entries", "head", "problems"],
                "properties": {
                  "intact": {"type": "boolean"},
                  "entries": {"type": "integer", "minimum": 0},
                  "head": {
                    "type": "string",
                    "description": "The hash at the head of the chain: note it, pass it later as `expect_head`."
                  },
                  "problems": {"type": "array", "items": {"type": "string"}}
                }
              },
              "EnrollmentToken": {
                "type": "object",
                "description": "An enrollment token as stored (the secret itself is never shown again).",
                "required": ["id", "reusable", "allowReenroll", "labels", "createdAt", "expiresAt", "uses"],
                "properties": {
                  "id": {"type": "string"},
                  "reusable": {"type": "boolean"},
                  "allowReenroll": {"type": "boolean"},
                  "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                  "createdAt": {"type": "string", "format": "date-time"},
                  "expiresAt": {"type": "string", "format": "date-time"},
                  "uses": {"type": "integer", "minimum": 0}
                }
              },
              "APIToken": {
                "type": "object",
                "description": "An API token as stored (the secret itself is never shown again).",
                "required": ["id", "name", "scopes", "createdAt"],
                "properties": {
                  "id": {"type": "string"},
                  "name": {"type": "string"},
                  "scopes": {"type": "array", "items": {"type": "string"}},
                  "createdAt": {"type": "string", "format": "date-time"},
                  "expiresAt": {"type": "string", "format": "date-time"},
                  "revokedAt": {"type": "string", "format": "date-time"}
                }
              },
              "CreatedSecret": {
                "type": "object",
                "description": "A token just created; `token` is shown once.",
                "required": ["id", "token"],
                "properties": {
                  "id": {"type": "string"},
                  "token": {"type": "string"},
                  "expiresAt": {
                    "type": "string",
                    "format": "date-time",
                    "description": "Absent for an API token without a `ttl`."
                  }
                }
              },
              "ReasonRequest": {
                "type": "object",
                "required": ["reason"],
                "additionalProperties": true,
                "properties": {
                  "reason": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 1000,
                    "pattern": "[^ \\t\\n\\r\\u000B\\u000C\\u0085\\u2028\\u2029]",
                    "description": "Why, 1 to 1000 characters (not only whitespace); recorded in the audit trail."
                  }
                }
              },
              "WaiverRequest": {
                "type": "object",
                "description": "Exactly one of `device` or `label`.",
                "required": ["rule", "duration", "reason"],
                "additionalProperties": true,
                "properties": {
                  "rule": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 200,
                    "pattern": "[^ \\t\\n\\r\\u000B\\u000C\\u0085\\u2028\\u2029]",
                    "description": "The policy rule's name, 1 to 200 characters."
                  },
                  "device": {
                    "type": ["string", "null"],
                    "description": "A device ID (exactly as `GET /v1/devices` lists it); 404 if there is no such device."
                  },
                  "label": {
                    "type": ["string", "null"],
                    "pattern": "^[^=]+=",
                    "description": "`key=value`: every device with the label."
                  },
                  "duration": {"$ref": "#/components/schemas/WaiverDuration"},
                  "reason": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 1000,
                    "pattern": "[^ \\t\\n\\r\\u000B\\u000C\\u0085\\u2028\\u2029]",
                    "description": "Why, 1 to 1000 characters (not only whitespace); recorded in the audit trail."
                  }
                },
                "oneOf": [
                  {"required": ["device"], "properties": {"device": {"type": "string"}}},
                  {"required": ["label"], "properties": {"label": {"type": "string"}}}
                ]
              },
              "EnrollmentTokenRequest": {
                "type": "object",
                "description": "Every field is optional: `{}` creates a single-use token valid for 24 hours.",
                "additionalProperties": true,
                "properties": {
                  "reusable": {
                    "type": ["boolean", "null"],
                    "description": "May enroll more than one machine (default false)."
                  },
                  "allowReenroll": {
                    "type": ["boolean", "null"],
                    "description": "May enroll an enrolled machine-id, marking the old device replaced (default false)."
                  },
                  "ttl": {
                    "anyOf": [{"$ref": "#/components/schemas/EnrollmentTTL"}, {"type": "null"}],
                    "description": "How long the token is valid (default `24h`)."
                  },
                  "labels": {
                    "type": ["object", "null"],
                    "additionalProperties": {"type": "string"},
                    "description": "Labels given to devices enrolled with the token."
                  },
                  "reason": {
                    "type": ["string", "null"],
                    "minLength": 1,
                    "maxLength": 1000,
                    "pattern": "[^ \\t\\n\\r\\u000B\\u000C\\u0085\\u2028\\u2029]",
                    "description": "Why, 1 to 1000 characters (not only whitespace); recorded in the audit trail (default `created over the API`)."
                  }
                }
              },
              "APITokenRequest": {
                "type": "object",
                "required": ["name", "scopes"],
                "additionalProperties": true,
                "properties": {
                  "name": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 100,
                    "pattern": "[^ \\t\\n\\r\\u000B\\u000C\\u0085\\u2028\\u2029]",
                    "description": "Who or what uses the token, 1 to 100 characters."
                  },
                  "scopes": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                      "type": "string",
                      "enum": ["verdict:read", "ssf:manage", "metrics:read", "fleet:read", "fleet:write", "admin"]
                    },
                    "description": "`admin` grants every scope."
                  },
                  "ttl": {
                    "anyOf": [{"$ref": "#/components/schemas/APITokenTTL"}, {"type": "null"}],
                    "description": "How long the token is valid; without it, it does not expire."
                  }
                }
              },
              "StreamConfiguration": {
                "type": "object",
                "description": "A Shared Signals stream as the collector stores it.",
                "required": [
                  "stream_id",
                  "iss",
                  "aud",
                  "delivery",
                  "events_supported",
                  "events_requested",
                  "events_delivered",
                  "posture_signing_alg"
                ],
                "properties": {
                  "stream_id": {"type": "string"},
                  "iss": {"type": "string"},
                  "aud": {"type": "string"},
                  "delivery": {
                    "type": "object",
                    "required": ["method"],
                    "properties": {
                      "method": {"type": "string", "enum": ["urn:ietf:rfc:8935", "urn:ietf:rfc:8936"]},
                      "endpoint_url": {
                        "type": "string",
                        "description": "The receiver's URL (push), or this collector's poll URL for the stream (poll)."
                      }
                    }
                  },
                  "events_supported": {"type": "array", "items": {"type": "string"}},
                  "events_requested": {"type": "array", "items": {"type": "string"}},
                  "events_delivered": {"type": "array", "items": {"type": "string"}},
                  "description": {"type": "string"},
                  "min_verification_interval": {"type": "integer"},
                  "posture_signing_alg": {"type": "string", "enum": ["RS256", "ES256"]},
                  "posture_subject_format": {"type": "string", "enum": ["iss_sub", "uri"]}
                }
              },
              "StreamConfigurationRequest": {
                "type": "object",
                "description": "SSF stream configuration; without `delivery`, a poll stream.",
                "additionalProperties": true,
                "properties": {
                  "iss": {"type": ["string", "null"], "description": "Ignored."},
                  "aud": {
                    "type": ["string", "null"],
                    "maxLength": 256,
                    "description": "The receiver's audience (default: the OAuth client's ID, else `posture-receiver`); fixed once the stream exists."
                  },
                  "description": {"type": ["string", "null"], "maxLength": 1024},
                  "posture_subject_format": {
                    "type": ["string", "null"],
                    "enum": ["iss_sub", "uri", null],
                    "description": "How SETs name a device: `iss_sub` (default) or its identity `uri`."
                  },
                  "delivery": {
                    "type": ["object", "null"],
                    "description": "Without it (or null), a poll stream.",
                    "additionalProperties": true,
                    "properties": {
                      "method": {"type": "string", "enum": ["urn:ietf:rfc:8935", "urn:ietf:rfc:8936"]},
                      "endpoint_url": {"type": ["string", "null"]},
                      "authorization_header": {"type": ["string", "null"], "description": "Sent with every push."}
                    },
                    "oneOf": [
                      {
                        "type": "object",
                        "required": ["method", "endpoint_url"],
                        "properties": {
                          "method": {"const": "urn:ietf:rfc:8935"},
                          "endpoint_url": {
                            "type": "string",
                            "pattern": "^https://[A-Za-z0-9.-]+(:[0-9]{1,4})?(/[A-Za-z0-9._~/-]*)?$",
                            "description": "Push: the receiver's https URL. Refused (400) unless it resolves to public addresses only, or ssf.allowedDestinations in collector.yaml lists it."
                          }
                        }
                      },
                      {
                        "type": "object",
                        "required": ["method"],
                        "properties": {"method": {"const": "urn:ietf:rfc:8936"}}
                      },
                      {"type": "null"}
                    ]
                  },
                  "events_supported": {"type": ["array", "null"], "items": {"type": "string"}, "description": "Ignored."},
                  "events_requested": {
                    "type": ["array", "null"],
                    "items": {"type": "string"},
                    "maxItems": 64,
                    "description": "Default: the CAEP device-compliance-change event. Verification and stream-updated events are delivered too."
                  },
                  "events_delivered": {"type": ["array", "null"], "items": {"type": "string"}, "description": "Ignored."},
                  "posture_signing_alg": {
                    "type": ["string", "null"],
                    "enum": ["RS256", "ES256", null],
                    "description": "How SETs are signed (default RS256)."
                  }
                }
              },
              "PollRequest": {
                "type": "object",
                "description": "RFC 8936 poll: acknowledge SETs and fetch the next ones.",
                "additionalProperties": true,
                "properties": {
                  "maxEvents": {
                    "type": ["integer", "null"],
                    "format": "int64",
                    "minimum": -9223372036854775808,
                    "maximum": 9223372036854775807,
                    "description": "At most this many SETs (clamped to 0…1000; default 100)."
                  },
                  "returnImmediately": {
                    "type": ["boolean", "null"],
                    "description": "Unless true, waits up to 30 seconds for a SET."
                  },
                  "ack": {
                    "type": ["array", "null"],
                    "items": {"type": "string"},
                    "description": "`jti`s of SETs received."
                  },
                  "setErrs": {
                    "type": ["object", "null"],
                    "description": "RFC 8936: SETs the receiver will never take, by `jti`; recorded and not offered again.",
                    "additionalProperties": {
                      "type": "object",
                      "required": ["err"],
                      "properties": {"err": {"type": "string"}, "description": {"type": ["string", "null"]}}
                    }
                  }
                }
              },
              "PollResponse": {
                "type": "object",
                "required": ["sets", "moreAvailable"],
                "properties": {
                  "sets": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "SETs (compact JWS) by `jti`."
                  },
                  "moreAvailable": {"type": "boolean"}
                }
              },
              "StreamStatus": {
                "type": "object",
                "required": ["stream_id", "status"],
                "properties": {
                  "stream_id": {"type": "string", "minLength": 1},
                  "status": {"type": "string", "enum": ["enabled", "paused", "disabled"]},
                  "reason": {"type": ["string", "null"], "maxLength": 1024}
                }
              },
              "OperatorStream": {
                "type": "object",
                "description": "A Shared Signals stream as the transmitter's operators see it.",
                "required": ["id", "owner", "audience", "deliveryMethod", "eventsRequested", "status", "createdAt"],
                "properties": {
                  "id": {"type": "string"},
                  "owner": {"type": "string", "description": "An API token's ID, or `oauth:<client_id>@<issuer>`."},
                  "audience": {"type": "string"},
                  "deliveryMethod": {"type": "string"},
                  "endpointURL": {"type": "string"},
                  "eventsRequested": {"type": "array", "items": {"type": "string"}},
                  "status": {"type": "string", "enum": ["enabled", "paused", "disabled"]},
                  "reason": {"type": "string"},
                  "description": {"type": "string"},
                  "createdAt": {"type": "string", "format": "date-time"}
                }
              },
              "OperatorStreamStatus": {
                "type": "object",
                "required": ["status", "reason"],
                "properties": {
                  "status": {"type": "string", "enum": ["enabled", "paused", "disabled"]},
                  "reason": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 1000,
                    "pattern": "[^ \\t\\n\\r\\u000B\\u000C\\u0085\\u2028\\u2029]"
                  }
                }
              },
              "StreamChangeRequest": {
                "description": "A stream configuration that names the stream.",
                "allOf": [
                  {"$ref": "#/components/schemas/StreamConfigurationRequest"},
                  {
                    "type": "object",
                    "required": ["stream_id"],
                    "properties": {"stream_id": {"type": "string", "minLength": 1}}
                  }
                ]
              },
              "VerificationRequest": {
                "type": "object",
                "required": ["stream_id"],
                "properties": {
                  "stream_id": {"type": "string", "minLength": 1},
                  "state": {"type": ["string", "null"], "maxLength": 1024}
                }
              },
              "SSFConfiguration": {
                "type": "object",
                "description": "Shared Signals transmitter metadata.",
                "required": [
                  "spec_version",
                  "issuer",
                  "jwks_uri",
                  "delivery_methods_supported",
                  "configuration_endpoint",
                  "status_endpoint",
                  "verification_endpoint",
                  "authorization_schemes",
                  "default_subjects"
                ],
                "properties": {
                  "spec_version": {"type": "string"},
                  "issuer": {"type": "string"},
                  "jwks_uri": {"type": "string"},
                  "delivery_methods_supported": {"type": "array", "items": {"type": "string"}},
                  "configuration_endpoint": {"type": "string"},
                  "status_endpoint": {"type": "string"},
                  "verification_endpoint": {"type": "string"},
                  "authorization_schemes": {
                    "type": "array",
                    "items": {"type": "object", "additionalProperties": {"type": "string"}}
                  },
                  "default_subjects": {"type": "string"}
                }
              },
              "JWKSet": {
                "type": "object",
                "required": ["keys"],
                "properties": {
                  "keys": {
                    "type": "array",
                    "items": {
                      "type": "object",
                      "required": ["kty", "kid", "alg", "use"],
                      "properties": {
                        "kty": {"type": "string"},
                        "kid": {"type": "string"},
                        "alg": {"type": "string"},
                        "use": {"type": "string"}
                      }
                    }
                  }
                }
              }
            }
          }
        }
        """#
}
