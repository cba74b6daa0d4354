//! Distribution API client for plinth: auth, pull, the push path, tag listing
