#include <datamesh/error.hpp>

namespace datamesh {

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
