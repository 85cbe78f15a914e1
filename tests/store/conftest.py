"""The API fixtures (the real app over the real node) serve the store's healing tests too."""

from tests.api.conftest import api, make_api, taxonomy

__all__ = ["api", "make_api", "taxonomy"]
