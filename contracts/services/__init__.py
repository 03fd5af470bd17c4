"""Services of agreements: each public function owns one transaction."""
