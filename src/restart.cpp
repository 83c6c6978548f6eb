#include <datamesh/error.hpp>
#include <datamesh/supervisor/restart.hpp>

#include <string>

namespace datamesh {

void check_restart_type(restart_type t) {
  if (t != restart_type::permanent && t != restart_type::transient &&
      t != restart_type::temporary) {
    throw error(errc::bad_options,
                "restart is not a restart_type value: " + std::to_string(static_cast<int>(t)));
  }
}

bool should_restart(restart_type type, const exit_reason& reason) noexcept {
  switch (type) {
    case restart_type::permanent:
      return true;
    case restart_type::transient:
      return !reason.is_clean();
    case restart_type::temporary:
      return false;
  }
  return false;
}

void restart_intensity_options::validate() const {
  if (window().count() <= 0) {
    throw error(errc::bad_options, "expected the restart period to be positive, got " +
                                       std::to_string(window().count()) + " ms");
  }
}

restart_intensity::restart_intensity(restart_intensity_options opts) : opts_(opts) {
  opts_.validate();
}

bool restart_intensity::add_restart(clock::time_point now) {
  // OTP's add_restart: keep the restarts of the last period, this one included; one more than
  // the intensity allows ends the supervisor.
  restarts_.push_back(now);
  // Compared in milliseconds: converting the period to the clock's nanoseconds would overflow
  // for huge windows (milliseconds::max() is a valid "forever").
  auto age = [&](clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now - t);
  };
  while (!restarts_.empty() && age(restarts_.front()) > opts_.window()) restarts_.pop_front();
  return restarts_.size() <= opts_.max_restarts;
}

}  // namespace datamesh
