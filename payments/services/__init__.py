"""Services of the payments package: one transaction per public function."""
