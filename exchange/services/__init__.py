"""Services of the exchange: each public function owns one transaction."""
