// The fixed parts of the head view page (src/viz/assets/, embedded by head_view_assets.S);
// head_view_html.cpp puts them together around the data block.
#pragma once

#include <string_view>

namespace mha::viz::assets {

std::string_view head_view_style();   // CSS, inside <style>
std::string_view head_view_body();    // the page's elements, filled in by the script
std::string_view head_view_script();  // JS, inside <script>; reads #head-view-data

}  // namespace mha::viz::assets
