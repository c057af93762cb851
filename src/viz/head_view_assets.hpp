// The fixed parts of the head view page (src/viz/head_view_assets.cpp); head_view_html.cpp puts
// them together around the data block.
#pragma once

#include <string_view>

namespace mha::viz::assets {

extern const std::string_view head_view_style;   // CSS, inside <style>
extern const std::string_view head_view_body;    // the page's elements, filled in by the script
extern const std::string_view head_view_script;  // JS, inside <script>; reads #head-view-data

}  // namespace mha::viz::assets
