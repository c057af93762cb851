// The head view: one self-contained, offline HTML page that shows every head of every layer.
//
//   head view   tokens in two columns (queries left, keys right); a line from query i to key j
//               per visible head, its opacity p_h[i, j], one colour per head. Click a head's
//               swatch to toggle it, double-click to show only it, hover a token to see only its
//               links, pick the layer from a menu.
//   model view  a grid of layers × heads thumbnails (each head's [L, L] table as a small image);
//               click one to open that head in the head view.
//   drill-down  click a query token: for one head, per key, q·k, the scaled score and the softmax
//               (needs query_key), next to the stored weight.
//   focus       the page opens with this token selected (only its links, drawn thick, the width
//               of each line growing with its weight); click a query token to select another,
//               "all links" or Escape to show every link again.
//   importance  optional, per head: how much the held-out loss rises when the head is removed
//               (mha/train/head_ablation.hpp) and the relation it carries, on the head swatches
//               and under the model view's thumbnails.
// The drawing fills the window: the row height follows the window's height (up to 48 px, so a
// short sentence is drawn large; long texts scroll at 18 px per row) and the link column its
// width (280 … 1100 px).
//
// The page makes no request of any kind: script, style and data are inline. The data sits in a
// <script type="application/json"> element, with '<', '>', '&', U+2028 and U+2029 written as
// \uXXXX escapes so that no token (e.g. "</script>") can end the element early; the page puts
// token text into the document with textContent only.
//
// Data layout inside the page (numbers stay compact for 512 tokens × many heads):
//   attention  base64 of little-endian uint16, round(p · 65535), [layer][head][query][key]
//   queries, keys  base64 of little-endian float32, [layer][head][position][d]
// Page size: about (8/3)·N·H·L² bytes for the weights plus (32/3)·N·L·H·D for q and k.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "mha/core/tensor.hpp"
#include "mha/viz/query_key.hpp"

namespace mha::viz {

// How much each head matters, e.g. from head ablation: Δ[layer][head][relation] (the rise of the
// held-out loss, in nats, when that head is removed) and the relation each head carries.
struct HeadViewImportance {
  std::string note;                    // what the numbers are, shown on the page
  std::vector<std::string> relations;  // R
  std::vector<std::vector<std::vector<double>>> delta;  // [layer][head][R], finite
  std::vector<std::vector<Index>> carries;  // [layer][head]: index into relations, −1 = none
};

struct HeadViewData {
  std::string title;                // shown as the page title and heading
  std::vector<std::string> tokens;  // L
  std::vector<Tensor<>> attention;  // one [H, L, L] per layer, every layer with the same H
  // Empty (no drill-down numbers beyond the weights), or one entry per layer with queries and keys
  // [H, L, D].
  std::vector<QueryKey> query_key;
  std::optional<Index> focus;                   // the token selected when the page opens
  std::optional<HeadViewImportance> importance;  // one entry per layer and head
};

// Writes the page. Throws mha::Error naming the field when there is no layer or token, a layer's
// shape is not [H, L, L] with the same H for all, or query_key is neither empty nor one [H, L, D]
// pair per layer, focus is outside [0, L), or importance is not [layers][heads][relations] with
// finite Δ and carries in [−1, R).
void write_head_view_html(const HeadViewData& data, std::ostream& out);

// The page's JSON data block exactly as embedded (already escaped for a <script> element).
std::string head_view_json(const HeadViewData& data);

}  // namespace mha::viz
