#include <datamesh/buffer.hpp>
#include <datamesh/demand.hpp>
#include <datamesh/error.hpp>
#include <datamesh/log.hpp>
#include <datamesh/subscribe_options.hpp>

#include <string>

namespace datamesh {

void subscribe_options::validate() const {
  if (max_demand < 1 || max_demand == infinity) {
    throw error(
        errc::bad_options,
        "expected max_demand to be a finite number equal to or greater than 1, got: " +
            (max_demand == infinity ? std::string("infinity") : std::to_string(max_demand)));
  }
  if (min_demand && *min_demand >= max_demand) {
    throw error(errc::bad_options, "expected min_demand to be equal to or less than " +
                                       std::to_string(max_demand - 1) +
                                       " (max_demand - 1), got: " + std::to_string(*min_demand));
  }
  // An enum cast from an integer must not act as some other value (a cancel of 77 as temporary).
  if (cancel != cancel_mode::permanent && cancel != cancel_mode::transient &&
      cancel != cancel_mode::temporary) {
    throw error(errc::bad_options,
                "cancel is not a cancel_mode value: " + std::to_string(static_cast<int>(cancel)));
  }
  if (demand != demand_mode::automatic && demand != demand_mode::manual) {
    throw error(errc::bad_options,
                "demand is not a demand_mode value: " + std::to_string(static_cast<int>(demand)));
  }
}

}  // namespace datamesh
