"""Services of the system of record: each public function owns one transaction."""
