#include "api/display_stream.h"

#include <memory>

#include "http/byte_stream.h"

namespace moat::broker::api {

http::StreamEndpoint::Decision AcceptDisplayStream(ApiContext& context, DisplayService& service,
                                                   display::DisplayGateway& gateway,
                                                   const http::HttpRequest& request) {
  auto refuse = [](const Error& error) {
    return http::StreamEndpoint::Decision{ErrorResponse(error), nullptr};
  };
  auto caller = Authenticate(context, request, /*query_ok=*/true);
  if (!caller) return refuse(caller.error());
  auto session = request.QueryParam("session");
  if (!session || session->empty()) {
    return refuse(
        InvalidArgument("the display needs ?session=ID (create one with POST "
                        "/api/v1/sessions)"));
  }
  std::string mode = request.QueryParam("mode").value_or("control");
  if (mode != "control" && mode != "shadow") {
    return refuse(InvalidArgument("mode must be 'control' or 'shadow', not '" + mode + "'"));
  }
  auto target =
      service.Open({.user = caller->user.name, .session_id = *session, .shadow = mode == "shadow"});
  if (!target) return refuse(target.error());
  if (auto free = gateway.CheckAdmission(*target); !free) return refuse(free.error());
  display::ConnectionInfo client{display::Via::kWeb,
                                 request.peer_address + ":" + std::to_string(request.peer_port)};
  return {std::nullopt, [&gateway, target = std::move(*target),
                         client](std::unique_ptr<http::ByteStream> stream) mutable {
            gateway.AttachWeb(std::move(stream), std::move(target), std::move(client));
          }};
}

}  // namespace moat::broker::api
