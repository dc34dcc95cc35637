import pytest


@pytest.mark.parametrize("n", range(3))
def test_register_login_create_list(client, user, n):
    response = client.post("/api/v1/tasks", json={"title": "x"}, headers=user.headers)
    assert response.status_code == 201
    listed = client.get("/api/v1/tasks", headers=user.headers)
    assert [t["title"] for t in listed.get_json()] == ["x"]
    spec = client.get("/api/openapi.json").get_json()
    assert "/api/v1/tasks" in spec["paths"]
