// GET /api/v1/display?session=ID&token=T[&mode=shadow]: a browser's WebSocket to a session's
// desktop (noVNC). The token goes in the query because browsers cannot set headers on a
// WebSocket; the checks run before the upgrade, so a refusal is a plain JSON error.
#pragma once

#include "api/api.h"
#include "broker/display_service.h"
#include "display/display_gateway.h"
#include "http/server.h"

namespace moat::broker::api {

http::StreamEndpoint::Decision AcceptDisplayStream(ApiContext& context, DisplayService& service,
                                                   display::DisplayGateway& gateway,
                                                   const http::HttpRequest& request);

}  // namespace moat::broker::api
