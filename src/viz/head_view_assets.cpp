// The head view page's style, elements and script: src/viz/assets/head_view.{css,html,js},
// assembled into the library by head_view_assets.S (.incbin), so each is an ordinary file that
// editors and linters read (the script is checked by `node --check` in the tests) and a change
// to one rebuilds no C++. The rules the script keeps are written at the top of head_view.js.
#include "viz/head_view_assets.hpp"

#include <cstddef>

extern "C" {
extern const char mha_head_view_css_begin[], mha_head_view_css_end[];
extern const char mha_head_view_html_begin[], mha_head_view_html_end[];
extern const char mha_head_view_js_begin[], mha_head_view_js_end[];
}

namespace mha::viz::assets {
namespace {

std::string_view between(const char* begin, const char* end) {
  return {begin, static_cast<std::size_t>(end - begin)};
}

}  // namespace

std::string_view head_view_style() { return between(mha_head_view_css_begin, mha_head_view_css_end); }
std::string_view head_view_body() { return between(mha_head_view_html_begin, mha_head_view_html_end); }
std::string_view head_view_script() { return between(mha_head_view_js_begin, mha_head_view_js_end); }

}  // namespace mha::viz::assets
