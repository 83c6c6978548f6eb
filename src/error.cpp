#include <datamesh/error.hpp>

namespace datamesh {

const char* to_string(errc e) noexcept {
  switch (e) {
    case errc::bad_options:
      return "bad_options";
    case errc::no_stage:
      return "no_stage";
    case errc::not_a_producer:
      return "not_a_producer";
    case errc::not_a_consumer:
      return "not_a_consumer";
    case errc::type_mismatch:
      return "type_mismatch";
    case errc::already_started:
      return "already_started";
    case errc::start_failed:
      return "start_failed";
    case errc::unknown_subscription:
      return "unknown_subscription";
    case errc::runtime_stopped:
      return "runtime_stopped";
    case errc::would_deadlock:
      return "would_deadlock";
    case errc::not_supported:
      return "not_supported";
    case errc::already_subscribed:
      return "already_subscribed";
    case errc::subscription_refused:
      return "subscription_refused";
    case errc::no_child:
      return "no_child";
    case errc::max_children:
      return "max_children";
    case errc::unknown_node:
      return "unknown_node";
    case errc::duplicate_node:
      return "duplicate_node";
    case errc::not_connected:
      return "not_connected";
    case errc::self_connection:
      return "self_connection";
    case errc::already_connected:
      return "already_connected";
    case errc::bad_description:
      return "bad_description";
    case errc::inlet_full:
      return "inlet_full";
  }
  return "unknown";
}

namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "datamesh"; }
  std::string message(int value) const override { return to_string(static_cast<errc>(value)); }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

}  // namespace datamesh
