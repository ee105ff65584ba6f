from tests.helpers import gql, make_tenant, token_for


async def test_admin_signs_in_and_sees_itself(client):
    await make_tenant("acme", ["hospital"])
    token = await token_for(client, "admin@acme.example", "acme")
    r = await gql(client, "{ me { email roles tenant { slug packs } } }", token=token)
    assert r.json() == {
        "data": {
            "me": {
                "email": "admin@acme.example",
                "roles": ["tenant_admin"],
                "tenant": {"slug": "acme", "packs": ["hospital"]},
            }
        }
    }
