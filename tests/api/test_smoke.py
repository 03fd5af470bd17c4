def test_me(op, new_caller):
    uni = new_caller("university")
    r = uni.get("/v1/me")
    assert r.status_code == 200
    assert r.json["id"] == uni.party_id
